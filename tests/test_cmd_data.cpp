// `nwq data`: the written images are the dataset's own normalized samples in evaluation order,
// --split calib is exactly the draw `nwq quantize` calibrates on, and bad flags write nothing.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor_io.h"
#include "data/calibration.h"
#include "data/fashion_mnist.h"
#include "data/sources.h"
#include "quant/pipeline.h"
#include "tests/helpers.h"
#include "tests/temp_dir.h"
#include "tests/quant_run_util.h"
#include "tools/lib/commands.h"

using namespace nwq;
using namespace nwq::test;

namespace {

bool have_fmnist() {
  return readable(std::string(kFashionMnistDir) + "/train-labels-idx1-ubyte.gz");
}

Shape shape_of(const Tensor& t) { return t.sizes(); }

// Sample `index` of `dataset` as its get() gives it.
std::vector<float> sample(const Dataset& dataset, int64_t index) {
  std::vector<float> x(784);
  Rng rng(0);
  dataset.get(index, x.data(), rng);
  return x;
}

std::vector<float> row(const Tensor& images, int64_t i) {
  return images.slice(0, i, i + 1).contiguous().to_vector<float>();
}

}  // namespace

TEST_CASE("nwq data: --split test writes the samples nwq eval reads, normalized as asked") {
  if (!have_fmnist()) {
    MESSAGE("skipped: Fashion-MNIST is not installed");
    return;
  }
  TempDir dir;
  const std::string out = dir / "test.safetensors";
  CHECK(cmd_data({"--limit", "50", "--out", out}) == 0);
  TensorFile f = load_safetensors(out);
  const Tensor& images = f.at("images");
  CHECK(images.dtype() == DType::F32);
  CHECK(shape_of(images) == std::vector<int64_t>{50, 1, 28, 28});
  CHECK(f.at("labels").dtype() == DType::I64);
  CHECK(shape_of(f.at("labels")) == std::vector<int64_t>{50});
  CHECK(f.meta("split") == "test");
  CHECK(f.meta("data") == "fmnist");
  CHECK(f.meta("mean") == "0.286");
  CHECK(f.meta("std") == "0.353");
  CHECK(f.meta("limit") == "50");
  DataSplits data = open_data("fmnist", false, false);
  const std::vector<int64_t> indices = f.at("indices").to_vector<int64_t>();
  const std::vector<int64_t> labels = f.at("labels").to_vector<int64_t>();
  for (int64_t i = 0; i < 50; ++i) {
    CHECK(indices[i] == i * 10000 / 50);  // evenly spaced, as nwq eval --limit 50 reads them
    CHECK(labels[i] == data.test->label(indices[i]));
    CHECK(row(images, i) == sample(*data.test, indices[i]));
  }
  // --mean/--std: (x/255 - mean) / std of the raw pixels.
  CHECK(cmd_data({"--limit", "5", "--mean", "0.5", "--std", "0.25", "--out", out}) == 0);
  TensorFile g = load_safetensors(out);
  CHECK(g.meta("mean") == "0.5");
  ImageDataset raw = load_fashion_mnist("test");
  const std::vector<float> first = row(g.at("images"), 1);
  const int64_t index = g.at("indices").to_vector<int64_t>()[1];
  for (int64_t p = 0; p < 784; ++p)
    CHECK(first[p] == (raw.pixels[index * 784 + p] / 255.0f - 0.5f) / 0.25f);
}

TEST_CASE("nwq data: --split calib is the draw nwq quantize --calib N --seed S uses") {
  if (!have_fmnist()) {
    MESSAGE("skipped: Fashion-MNIST is not installed");
    return;
  }
  TempDir dir;
  const std::string out = dir / "calib.safetensors";
  CHECK(cmd_data({"--split", "calib", "--calib", "40", "--seed", "7", "--out", out}) == 0);
  TensorFile f = load_safetensors(out);
  CHECK(shape_of(f.at("images")) == std::vector<int64_t>{40, 1, 28, 28});
  CHECK(f.meta("split") == "calib");
  CHECK(f.meta("calib") == "40");
  CHECK(f.meta("seed") == "7");
  DataSplits data = open_data("fmnist", false, true);
  const std::vector<int64_t> indices = f.at("indices").to_vector<int64_t>();
  CHECK(indices == calibration_indices(data.train->size(), 40, 7));
  QuantConfig c;
  c.calib = 40;
  c.seed = 7;
  CHECK(same_bytes(f.at("images"), load_calibration(*data.train, c, Device::cpu(), 2)));
  const std::vector<int64_t> labels = f.at("labels").to_vector<int64_t>();
  for (int64_t i = 0; i < 40; ++i) {
    CHECK(labels[i] == data.train->label(indices[i]));
    CHECK(row(f.at("images"), i) == sample(*data.train, indices[i]));
  }
  // --weights: mean/std come from the checkpoint's metadata.
  const std::string weights = dir / "w.safetensors";
  save_safetensors(weights, {{"x", Tensor::zeros({1})}}, {{"mean", "0.25"}, {"std", "0.5"}});
  CHECK(cmd_data({"--split", "train", "--limit", "3", "--weights", weights, "--out", out}) == 0);
  TensorFile g = load_safetensors(out);
  CHECK(g.meta("mean") == "0.25");
  CHECK(g.meta("std") == "0.5");
  CHECK(row(g.at("images"), 2) != sample(*data.train, g.at("indices").to_vector<int64_t>()[2]));
}

TEST_CASE("nwq data: flag errors name the flag and write nothing") {
  TempDir dir;
  const std::string out = dir / "x.safetensors";
  auto error_of = [](const std::vector<std::string>& args) -> std::string {
    try {
      cmd_data(args);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  CHECK(error_of({}).find("--out FILE is required") != std::string::npos);
  CHECK(error_of({"--split", "val", "--out", out})
            .find("--split must be one of test, train, calib") != std::string::npos);
  CHECK(error_of({"--seed", "3", "--out", out}).find("--calib/--seed") != std::string::npos);
  CHECK(error_of({"--split", "train", "--calib", "8", "--out", out}).find("need --split calib") !=
        std::string::npos);
  CHECK(error_of({"--split", "calib", "--limit", "8", "--out", out})
            .find("--limit: not with --split calib") != std::string::npos);
  CHECK(error_of({"--split", "calib", "--calib", "0", "--out", out}).find("--calib must be in") !=
        std::string::npos);
  CHECK(error_of({"--limit", "x", "--out", out}).find("--limit expects an integer") !=
        std::string::npos);
  CHECK(error_of({"--out", "/no/such/dir/x.safetensors"}).find("does not exist") !=
        std::string::npos);
  CHECK(error_of({"--weights", dir / "missing.safetensors", "--out", out})
            .find("missing.safetensors") != std::string::npos);
  CHECK(error_of({"--mean", "1,2", "--out", out}).find("--mean: 2 values given") !=
        std::string::npos);
  CHECK(error_of({"--data", "mnist", "--out", out}).find("--data: unknown data set") !=
        std::string::npos);
  if (have_fmnist())
    CHECK(error_of({"--split", "calib", "--calib", "60001", "--out", out}).find("--calib: 60001") !=
          std::string::npos);
  CHECK_FALSE(readable(out));
}
