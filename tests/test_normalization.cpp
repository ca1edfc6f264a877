// --mean/--std and the checkpoint's `mean`/`std` metadata: parsing and its errors, DataOptions in
// every kind of split, train writing the metadata, eval/quantize reading it (a flag wins, warned).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor_io.h"
#include "data/fashion_mnist.h"
#include "data/normalization.h"
#include "data/sources.h"
#include "tests/image_test_util.h"
#include "tests/quant_run_util.h"
#include "tools/lib/commands.h"

using namespace nwq;
using namespace nwq::test;

namespace {

const std::string kWeights = "models/weights/fmnist_resnet20.safetensors";

bool have_fmnist() {
  return readable(std::string(kFashionMnistDir) + "/t10k-labels-idx1-ubyte.gz");
}

// The message of the nwq::Error a command throws, or "" when it returns.
template <class Command>
std::string error_of(Command command, const std::vector<std::string>& args) {
  try {
    command(args);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Runs `nwq ARGS` as a process; stdout and stderr land in the given strings, returns the status.
int run_nwq(const std::string& args, const TempDir& dir, std::string* out, std::string* err) {
  const std::string o = dir / "stdout", e = dir / "stderr";
  const int status =
      std::system((nwq_binary() + " " + args + " > '" + o + "' 2> '" + e + "'").c_str());
  *out = slurp(o);
  *err = slurp(e);
  return status;
}

// top1 of `nwq eval ARGS --json` (fails the test when the run fails).
double eval_top1(const std::string& args, const TempDir& dir, std::string* err) {
  std::string out;
  REQUIRE(run_nwq("eval --quiet --json --limit 300 " + args, dir, &out, err) == 0);
  return parse_json(out, "eval --json").at("top1").as_double();
}

// A copy of the committed Fashion-MNIST checkpoint with mean/std in its metadata.
std::string checkpoint_with(const TempDir& dir, const std::string& mean, const std::string& std_) {
  TensorFile f = load_safetensors(kWeights);
  SafetensorsMetadata meta = f.metadata;
  meta.push_back({"mean", mean});
  meta.push_back({"std", std_});
  const std::string path = dir / "with_meta.safetensors";
  save_safetensors(path, f.tensors, meta);
  return path;
}

}  // namespace

TEST_CASE("normalization: channel values parse strictly and format to the same floats") {
  CHECK(parse_channel_values("0.4914,0.4822,0.4465", "--mean", false) ==
        std::vector<float>{0.4914f, 0.4822f, 0.4465f});
  CHECK(parse_channel_values("-1.5", "--mean", false) == std::vector<float>{-1.5f});
  CHECK(format_channel_values({0.4914f, 0.4822f, 0.4465f}) == "0.4914,0.4822,0.4465");
  CHECK(format_channel_values({0.286f}) == "0.286");
  const std::vector<float> odd = {1.0f / 3, 0.1f + 1e-8f, 2.5e-7f};
  CHECK(parse_channel_values(format_channel_values(odd), "x", false) == odd);
  for (const char* bad :
       {"", ",", "a", "0.5,", ",0.5", "0.5,,0.5", "0.5x", "nan", "1e999", "0.5;0.5"})
    CHECK_THROWS_WITH_AS(parse_channel_values(bad, "--mean", false),
                         doctest::Contains("--mean: expected comma-separated numbers"), Error);
  for (const char* bad : {"0", "0.2,0,0.2", "-0.3"})
    CHECK_THROWS_WITH_AS(parse_channel_values(bad, "--std", true),
                         doctest::Contains("--std: values must be > 0"), Error);
  CHECK(data_spec_channels("fmnist") == 1);
  CHECK(data_spec_channels("fmnist:/x") == 1);
  CHECK(data_spec_channels("cifar10:/x") == 3);
  CHECK_THROWS_WITH_AS(
      check_channel_count({0.5f, 0.5f, 0.5f}, "fmnist", "--mean"),
      doctest::Contains("--mean: 3 values given, but --data fmnist images have 1 channel"), Error);
  CHECK_THROWS_WITH_AS(
      check_channel_count({0.5f}, "imagenet:/d", "--std"),
      doctest::Contains("--std: 1 value given, but --data imagenet:/d images have 3 channels"),
      Error);
}

TEST_CASE("normalization: --mean/--std errors name the flag in train, eval, quantize and data") {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--mean", "0.5,0.5,0.5"},
       "--mean: 3 values given, but --data fmnist images have 1 channel"},
      {{"--std", "0.2,0.2"}, "--std: 2 values given"},
      {{"--mean", "abc"}, "--mean: expected comma-separated numbers"},
      {{"--mean", "0.5,"}, "--mean: expected comma-separated numbers"},
      {{"--std", "0"}, "--std: values must be > 0"},
      {{"--std", "-0.25"}, "--std: values must be > 0"},
      {{"--mean"}, "flag --mean needs a value"},
      {{"--std="}, "flag --std has an empty value"},
      {{"--data", "cifar10:/nowhere", "--mean", "0.5"},
       "--mean: 1 value given, but --data cifar10:/nowhere images have 3 channels"},
  };
  TempDir dir;
  const std::string out = dir / "out.safetensors";
  for (const auto& [flags, message] : cases) {
    CAPTURE(message);
    std::vector<std::string> train = {"--limit", "1", "--epochs", "1", "--out", out};
    std::vector<std::string> eval = {"--weights", kWeights};
    std::vector<std::string> quantize = {"--weights", kWeights, "--method", "rtn", "--out", out};
    std::vector<std::string> data = {"--out", out};
    for (auto* args : {&train, &eval, &quantize, &data})
      args->insert(args->end(), flags.begin(), flags.end());
    CHECK(contains(error_of(cmd_train, train), message));
    CHECK(contains(error_of(cmd_eval, eval), message));
    CHECK(contains(error_of(cmd_quantize, quantize), message));
    CHECK(contains(error_of(cmd_data, data), message));
  }
  CHECK_FALSE(readable(out));
}

TEST_CASE("normalization: a checkpoint's bad mean/std metadata is an error naming the file") {
  TempDir dir;
  const std::string bad = checkpoint_with(dir, "0.5,0.5,0.5", "0.25");
  CHECK(contains(error_of(cmd_eval, {"--weights", bad}),
                 bad + ": metadata 'mean' (override it with --mean): 3 values"));
  // A flag replaces the unusable value.
  CHECK_FALSE(
      contains(error_of(cmd_eval, {"--weights", bad, "--mean", "0.2", "--limit", "10", "--quiet"}),
               "metadata 'mean'"));
  const std::string junk = checkpoint_with(dir, "0.5", "zero");
  CHECK(contains(error_of(cmd_eval, {"--weights", junk}),
                 junk + ": metadata 'std': expected comma-separated"));
}

TEST_CASE("normalization: DataOptions mean/std replace the default of every split") {
  TempDir dir;
  // Small images (in-memory folder: ImageNet default) and large ones (the ImageNet pipelines).
  for (int side : {8, 70}) {
    for (const char* split : {"train", "val"})
      for (const char* cls : {"a", "b"})
        write_png(dir / (std::to_string(side) + "/" + split + "/" + cls + "/0.png"),
                  numbered_image(side, side, 3, cls[0]));
    const std::string spec = "folder:" + dir / std::to_string(side);
    DataSplits d = open_data(spec, false, true);
    CHECK(d.mean == std::vector<float>{0.485f, 0.456f, 0.406f});
    CHECK(d.std == std::vector<float>{0.229f, 0.224f, 0.225f});
    DataOptions o;
    o.mean = {0.1f, 0.2f, 0.3f};
    o.std = {0.5f, 0.25f, 2.0f};
    DataSplits n = open_data(spec, o);
    CHECK(n.mean == o.mean);
    CHECK(n.std == o.std);
    const int64_t size = n.channels * n.height * n.width, plane = n.height * n.width;
    std::vector<float> a(size), b(size);
    Rng rng(0);
    const std::pair<const Dataset*, const Dataset*> splits[] = {{d.test.get(), n.test.get()},
                                                                {d.train.get(), n.train.get()}};
    for (const auto& [plain, custom] : splits) {
      plain->get(0, a.data(), rng);
      custom->get(0, b.data(), rng);
      for (int64_t i = 0; i < size; i += 7) {  // same pixel x/255 under both normalizations
        const int64_t c = i / plane;
        const float x = a[i] * d.std[c] + d.mean[c];
        CHECK(b[i] == doctest::Approx((x - o.mean[c]) / o.std[c]).epsilon(1e-5));
      }
    }
    o.mean = {0.5f};
    CHECK_THROWS_WITH_AS(open_data(spec, o), doctest::Contains("--mean: 1 value given"), Error);
    o.mean = {};
    o.std = {0.5f, 0.0f, 1.0f};
    CHECK_THROWS_WITH_AS(open_data(spec, o), doctest::Contains("--std: values must be > 0"), Error);
  }
  if (!have_fmnist()) return;
  DataOptions o;
  o.load_train = false;
  o.mean = {0.5f};
  o.std = {0.25f};
  DataSplits f = open_data("fmnist", o);
  ImageDataset raw = load_fashion_mnist("test");
  std::vector<float> x(784);
  Rng rng(0);
  f.test->get(3, x.data(), rng);
  for (int64_t i = 0; i < 784; ++i)
    CHECK(x[i] == (raw.pixels[3 * 784 + i] / 255.0f - 0.5f) / 0.25f);
  CHECK(open_data("fmnist", false, false).mean == std::vector<float>{0.286f});
}

TEST_CASE("normalization: train writes mean/std into the checkpoint's metadata") {
  if (!have_fmnist()) {
    MESSAGE("skipped: Fashion-MNIST is not installed");
    return;
  }
  TempDir dir;
  const std::string path = dir / "t.safetensors";
  CHECK(cmd_train({"--epochs", "1", "--limit", "64", "--batch", "64", "--eval-limit", "64",
                   "--quiet", "--mean", "0.3", "--std", "0.4", "--out", path}) == 0);
  TensorFile saved = load_safetensors(path);
  CHECK(saved.meta("mean") == "0.3");
  CHECK(saved.meta("std") == "0.4");
}

TEST_CASE(
    "normalization: eval uses the checkpoint's mean/std; a flag overrides it with a warning") {
  const std::string nwq = nwq_binary();
  if (!have_fmnist() || !readable(kWeights) || !readable(nwq)) {
    MESSAGE("skipped: needs Fashion-MNIST, " << kWeights << " and " << nwq);
    return;
  }
  TempDir dir;
  const std::string with_meta = checkpoint_with(dir, "0.5", "0.25");
  std::string err;
  const double from_meta = eval_top1("--weights " + with_meta, dir, &err);
  CHECK(contains(err, "normalization: mean 0.5 std 0.25 (checkpoint " + with_meta + ")"));
  CHECK_FALSE(contains(err, "warning"));
  const double from_flags =
      eval_top1("--weights " + kWeights + " --mean 0.5 --std 0.25", dir, &err);
  CHECK(contains(err, "normalization: mean 0.5 std 0.25 (--mean/--std)"));
  CHECK(from_flags == from_meta);
  const double by_default = eval_top1("--weights " + kWeights, dir, &err);
  CHECK(contains(err, "normalization: mean 0.286 std 0.353 (fmnist default)"));
  CHECK(by_default > 90);
  CHECK(by_default != from_meta);
  // Flags that differ from the metadata win, each with one warning line naming both and the file.
  const double overridden =
      eval_top1("--weights " + with_meta + " --mean 0.286 --std 0.353", dir, &err);
  CHECK(overridden == by_default);
  CHECK(contains(err, "nwq: warning: --mean 0.286 differs from the checkpoint's mean 0.5 (" +
                          with_meta + "); using the flag\n"));
  CHECK(contains(err, "nwq: warning: --std 0.353 differs from the checkpoint's std 0.25 (" +
                          with_meta + "); using the flag\n"));
  // Equal values: no warning; one flag alone: the other value comes from the metadata.
  eval_top1("--weights " + with_meta + " --mean 0.5", dir, &err);
  CHECK_FALSE(contains(err, "warning"));
  CHECK(contains(
      err, "normalization: mean 0.5 std 0.25 (mean: --mean, std: checkpoint " + with_meta + ")"));
}

TEST_CASE(
    "normalization: quantize --out records mean/std; FP top1 'not evaluated' with --no-fp-eval") {
  const std::string nwq = nwq_binary();
  if (!have_fmnist() || !readable(kWeights) || !readable(nwq)) {
    MESSAGE("skipped: needs Fashion-MNIST, " << kWeights << " and " << nwq);
    return;
  }
  TempDir dir;
  const std::string with_meta = checkpoint_with(dir, "0.25", "0.5");
  const std::string q = dir / "q.safetensors";
  std::string out, err;
  REQUIRE(run_nwq("quantize --weights " + with_meta +
                      " --method rtn --calib 32 --eval-limit 100 "
                      "--no-fp-eval --quiet --json --out " +
                      q + " --report " + (dir / "r.json"),
                  dir, &out, &err) == 0);
  const Json report = parse_json(slurp(dir / "r.json"), "quantize --report");
  CHECK(report.at("normalization").at("std")[0].as_double() == doctest::Approx(0.5));
  CHECK(contains(err, "normalization: mean 0.25 std 0.5 (checkpoint " + with_meta + ")"));
  CHECK(contains(err, "W4A4 rtn: FP top1 not evaluated, quantized top1 "));
  CHECK_FALSE(contains(err, "-1.00"));
  const Json summary = parse_json(out, "quantize --json");
  CHECK(summary.at("fp_top1").as_double() == -1);  // the JSON keeps -1 (not measured)
  CHECK(summary.at("mean")[0].as_double() == doctest::Approx(0.25));
  TensorFile quantized = load_safetensors(q);
  CHECK(quantized.meta("mean") == "0.25");
  CHECK(quantized.meta("std") == "0.5");
  REQUIRE(run_nwq("eval --quiet --limit 100 --weights " + q, dir, &out, &err) == 0);
  CHECK(contains(err, "normalization: mean 0.25 std 0.5 (checkpoint " + q + ")"));
  REQUIRE(run_nwq("info " + q, dir, &out, &err) == 0);
  CHECK(contains(out, "normalization: mean 0.25 std 0.5\n"));
  REQUIRE(run_nwq("info " + q + " --json", dir, &out, &err) == 0);
  CHECK(contains(out, "\"normalization\":{\"mean\":[0.25],\"std\":[0.5]}"));
}
