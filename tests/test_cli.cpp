// The nwq subcommands called as functions: flag errors name the flag, bad files name the file,
// a tiny train -> save -> eval round trip reproduces the accuracy it reported, and the flags the
// commands share have the same help everywhere.
#include <doctest/doctest.h>

#include <fstream>

#include "core/tensor_io.h"
#include "data/fashion_mnist.h"
#include "data/sources.h"
#include "models/registry.h"
#include "tests/helpers.h"
#include "tests/temp_dir.h"
#include "tools/lib/args.h"
#include "tools/lib/commands.h"
#include "train/trainer.h"

using namespace nwq;
using nwq::test::TempDir;

static bool have_fmnist() {
  std::ifstream f(std::string(kFashionMnistDir) + "/t10k-labels-idx1-ubyte.gz");
  return f.good();
}

TEST_CASE("cli: flag parsing errors name the flag") {
  ArgParser a("test", "a test");
  a.add("--n", "N", "3", "a number");
  a.add("--x", "X", "", "a word");
  a.add_switch("--on", "a switch");
  CHECK_THROWS_WITH_AS(a.parse({"--nope"}), doctest::Contains("unknown flag --nope"), Error);
  ArgParser b = a;
  CHECK_THROWS_WITH_AS(b.parse({"--n"}), doctest::Contains("--n needs a value"), Error);
  ArgParser c = a;
  c.parse({"--n=12x"});
  CHECK_THROWS_WITH_AS(c.get_int("--n", 0, 100), doctest::Contains("expects an integer"), Error);
  ArgParser d = a;
  d.parse({"--n", "170"});
  CHECK_THROWS_WITH_AS(d.get_int("--n", 0, 100), doctest::Contains("must be in [0, 100]"), Error);
  ArgParser e = a;
  CHECK_THROWS_WITH_AS(e.parse({"--on=1"}), doctest::Contains("takes no value"), Error);
  ArgParser f = a;
  CHECK_THROWS_WITH_AS(f.parse({"--n", "1", "--n", "2"}), doctest::Contains("given twice"), Error);
  ArgParser g = a;
  CHECK_THROWS_WITH_AS(g.parse({"stray"}), doctest::Contains("unexpected argument 'stray'"), Error);
  ArgParser h = a;
  h.parse({"--on"});
  CHECK(h.on("--on"));
  CHECK(h.get_int("--n", 0, 10) == 3);
  CHECK_FALSE(h.has("--x"));
  CHECK_THROWS_WITH_AS(h.get("--x"), doctest::Contains("--x is required"), Error);
}

TEST_CASE("cli: train and eval refuse bad input before doing work") {
  CHECK_THROWS_WITH_AS(cmd_train({"--model", "resnet7", "--limit", "1"}),
                       doctest::Contains("resnet20"), Error);
  CHECK_THROWS_WITH_AS(cmd_train({"--epochs", "0"}), doctest::Contains("--epochs"), Error);
  CHECK_THROWS_WITH_AS(cmd_train({"--data", "mnist9"}), doctest::Contains("--data"), Error);
  CHECK_THROWS_WITH_AS(cmd_train({"--out", "/no/such/dir/w.safetensors"}),
                       doctest::Contains("does not exist"), Error);
  CHECK_THROWS_WITH_AS(cmd_train({"--device", "tpu"}), doctest::Contains("--device"), Error);
  CHECK_THROWS_WITH_AS(cmd_train({"--tf32", "--limit", "1"}), doctest::Contains("--tf32"), Error);
  CHECK_THROWS_WITH_AS(cmd_eval({}), doctest::Contains("--weights"), Error);
  CHECK_THROWS_WITH_AS(cmd_eval({"--weights", "/no/such/file.safetensors"}),
                       doctest::Contains("/no/such/file.safetensors"), Error);
  TempDir dir;
  std::string junk = dir / "junk.safetensors";
  std::ofstream(junk) << "not a safetensors file at all";
  CHECK_THROWS_WITH_AS(cmd_eval({"--weights", junk, "--model", "resnet20"}),
                       doctest::Contains(junk.c_str()), Error);
  CHECK_THROWS_WITH_AS(cmd_info({junk}), doctest::Contains(junk.c_str()), Error);
}

TEST_CASE("cli: weights of the wrong model are refused with the key names") {
  if (!have_fmnist()) {
    MESSAGE("skipped: Fashion-MNIST is not installed");
    return;
  }
  TempDir dir;
  std::string path = dir / "r32.safetensors";
  create_model("resnet32", 10, 1, 0)->save(path, {{"model", "resnet32"}});
  CHECK_THROWS_WITH_AS(cmd_eval({"--weights", path, "--model", "resnet20", "--quiet"}),
                       doctest::Contains("unexpected"), Error);
}

TEST_CASE("cli: train -> save -> eval reproduces the reported accuracy") {
  if (!have_fmnist()) {
    MESSAGE("skipped: Fashion-MNIST is not installed");
    return;
  }
  TempDir dir;
  std::string path = dir / "tiny.safetensors";
  CHECK(cmd_train({"--epochs", "1", "--limit", "256", "--batch", "64", "--eval-limit", "500",
                   "--quiet", "--out", path}) == 0);
  TensorFile saved = load_safetensors(path);
  CHECK(saved.meta("model") == "resnet20");
  CHECK(saved.meta("mean") == "0.286");  // the normalization it trained with (fmnist default)
  CHECK(saved.meta("std") == "0.353");
  CHECK(saved.contains("layer3.2.bn2.running_var"));
  double reported = std::stod(saved.meta("top1"));
  CHECK(cmd_eval({"--weights", path, "--limit", "500", "--quiet"}) == 0);
  // The same evaluation through the library API gives the accuracy train reported.
  DataSplits data = open_data("fmnist", false, false);
  ModelPtr model = create_model("resnet20", 10, 1, 99);
  model->load(path);
  EvalOptions o;
  o.limit = 500;
  o.progress = false;
  CHECK(evaluate(*model, *data.test, o).top1 == doctest::Approx(reported).epsilon(1e-9));

  // --epochs 0 --precise-bn: only the BN statistics change, from 128 training images.
  const std::string precise = dir / "precise.safetensors";
  CHECK(cmd_train({"--weights", path, "--epochs", "0", "--precise-bn", "128", "--batch", "64",
                   "--eval-limit", "500", "--quiet", "--out", precise}) == 0);
  TensorFile after = load_safetensors(precise);
  CHECK(after.meta("precise_bn_images") == "128");
  CHECK(after.meta("epochs") == "1");  // the epochs behind the weights, not the 0 of this call
  CHECK(test::same_bytes(after.at("layer3.2.conv2.weight"), saved.at("layer3.2.conv2.weight")));
  CHECK_FALSE(test::same_bytes(after.at("layer3.2.bn2.running_var"),
                               saved.at("layer3.2.bn2.running_var")));
  model->load(precise);
  CHECK(evaluate(*model, *data.test, o).top1 ==
        doctest::Approx(std::stod(after.meta("top1"))).epsilon(1e-9));
}

TEST_CASE("cli: checkpoints saved through DataParallel ('module.' prefix) load as they are") {
  ModelPtr source = create_model("resnet20", 10, 1, 4);
  NamedTensors prefixed;
  for (const auto& [name, t] : source->state_dict()) prefixed.emplace_back("module." + name, t);
  TempDir dir;
  std::string path = dir / "dp.safetensors";
  save_safetensors(path, prefixed, {{"model", "resnet20"}});
  ModelPtr target = create_model("resnet20", 10, 1, 5);
  target->load_checkpoint(path);
  CHECK(target->state_dict()[0].second.to_vector<float>() ==
        source->state_dict()[0].second.to_vector<float>());
}

TEST_CASE("cli: --bad-images takes stop or skip") {
  CHECK_THROWS_WITH_AS(cmd_train({"--bad-images", "ignore", "--limit", "1"}),
                       doctest::Contains("--bad-images must be one of stop, skip"), Error);
}

TEST_CASE("cli: train, eval, quantize and data give their shared flags the same help") {
  const ArgParser train = train_flags(), eval = eval_flags(), quantize = quantize_flags(),
                  data = data_flags();
  for (const std::string flag :
       {"--data", "--device", "--tf32", "--workers", "--bad-images", "--quiet", "--json"}) {
    CAPTURE(flag);
    CHECK(eval.help_line(flag) == train.help_line(flag));
    CHECK(quantize.help_line(flag) == train.help_line(flag));
    for (const ArgParser* command : {&train, &eval, &quantize})
      CHECK(command->help().find(train.help_line(flag)) != std::string::npos);
  }
  for (const std::string flag : {"--data", "--workers", "--bad-images"})
    CHECK(data.help_line(flag) == train.help_line(flag));
  // eval, quantize and data take --mean/--std defaults from --weights' metadata; train does not.
  for (const std::string flag : {"--mean", "--std"}) {
    CAPTURE(flag);
    CHECK(quantize.help_line(flag) == eval.help_line(flag));
    CHECK(data.help_line(flag) == eval.help_line(flag));
  }
  CHECK(eval.help_line("--mean").find("--weights") != std::string::npos);
  CHECK(train.help_line("--mean").find("--weights") == std::string::npos);
  CHECK(train.help_line("--bad-images") ==
        "  --bad-images MODE         undecodable image files: stop (error naming the file) or "
        "skip (count and list them) (default: stop)\n");
  CHECK(eval.help_line("--quiet") == "  --quiet                   no progress bars\n");
  CHECK_THROWS_WITH_AS(eval.help_line("--epochs"), doctest::Contains("never declared"), Error);
}
