// The ImageNet path end to end on a tiny generated ImageFolder: a random-initialised torchvision
// resnet18 is quantized with `nwq quantize --data folder:DIR` (ImageNet transforms, 224x224) and
// the packed file it writes evaluates to the top-1 the run reported.
#include <doctest/doctest.h>

#include <fstream>

#include "core/json.h"
#include "core/tensor_io.h"
#include "data/sources.h"
#include "image_test_util.h"
#include "models/registry.h"
#include "quant/export.h"
#include "tools/lib/commands.h"
#include "train/trainer.h"

using namespace nwq;

namespace {

// root/{train,val}/{cat,dog}/N.jpg, 96x80 JPEGs (shorter side >= 64: the imagenet transforms).
void write_tiny_imagenet(const test::TempDir& root) {
  int seed = 1;
  for (std::string split : {"train", "val"})
    for (std::string cls : {"cat", "dog"}) {
      std::filesystem::create_directories(root / (split + "/" + cls));
      for (int i = 0; i < (split == "train" ? 4 : 2); ++i)
        test::write_jpg(root / (split + "/" + cls + "/" + std::to_string(i) + ".jpg"),
                        test::numbered_image(80, 96, 3, seed++));
    }
}

}  // namespace

TEST_CASE("quantize: ImageNet-style folder data, resnet18, quantize -> save -> eval") {
  test::TempDir root;
  write_tiny_imagenet(root);
  const std::string weights = root / "resnet18.safetensors", out = root / "q.safetensors",
                    report = root / "report.json";
  create_model("resnet18", 2, 3, 7)->save(weights, {{"model", "resnet18"}});
  REQUIRE(cmd_quantize({"--weights", weights, "--data", "folder:" + root.path(), "--method", "nwq",
                        "--wbits", "4", "--abits", "4", "--calib", "4", "--init-images", "4",
                        "--iters", "2", "--batch", "2", "--quiet", "--out", out, "--report",
                        report}) == 0);
  std::ifstream in(report);
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  const Json r = parse_json(text, report);
  CHECK(r.at("model").as_string() == "resnet18");
  CHECK(r.at("data").as_string() == "folder");
  CHECK(r.at("layers").size() == 21);  // 20 convs (3 downsample) + fc
  CHECK(r.at("units").size() == 1);    // network scope: one unit

  // The packed file reloads to the same top-1 on the same 4 validation images (224x224 crops).
  DataSplits data = open_data("folder:" + root.path(), false, false);
  CHECK(data.height == 224);
  auto qm = load_quantized(load_safetensors(out), data.num_classes, 3, data.height, data.width,
                           Device::cpu());
  EvalOptions eo;
  eo.progress = false;
  CHECK(evaluate(*qm, *data.test, eo).top1 == r.at("quant_top1").as_double());
}
