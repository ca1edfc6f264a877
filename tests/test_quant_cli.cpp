// `nwq quantize` called as a function: bad flags and files are refused naming the flag or file
// before any work, and nothing is written to --out or --report when it fails.
#include <doctest/doctest.h>

#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/fashion_mnist.h"
#include "models/registry.h"
#include "tests/temp_dir.h"
#include "tools/lib/commands.h"

using namespace nwq;
using nwq::test::TempDir;

namespace {

bool exists(const std::string& path) { return std::ifstream(path).good(); }

bool have_fmnist() {
  return exists(std::string(kFashionMnistDir) + "/train-labels-idx1-ubyte.gz");
}

// The message of the nwq::Error that cmd_quantize throws, or "" when it returns.
std::string quantize_error(const std::vector<std::string>& args) {
  try {
    cmd_quantize(args);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// FP resnet20 weights with the model name in the metadata, saved in dir; returns the path.
std::string save_fp_weights(const TempDir& dir) {
  const std::string path = dir / "fp.safetensors";
  create_model("resnet20", 10, 1, 0)->save(path, {{"model", "resnet20"}});
  return path;
}

}  // namespace

TEST_CASE("quant cli: flag errors name the flag and write nothing") {
  TempDir dir;
  const std::string weights = save_fp_weights(dir);
  const std::string out = dir / "q.safetensors", report = dir / "report.json";
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"--weights", weights, "--out", out, "--report", report,
                                     "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    return quantize_error(args);
  };
  CHECK(contains(quantize_error({"--quiet"}), "--weights"));
  CHECK(contains(quantize_error({"--weights", dir / "none.safetensors"}),
                 dir / "none.safetensors"));
  CHECK(contains(run({"--wbits", "17"}), "--wbits"));
  CHECK(contains(run({"--wbits", "1"}), "--wbits"));
  CHECK(contains(run({"--abits", "9"}), "--abits"));
  CHECK(contains(run({"--iters", "-1"}), "--iters"));
  CHECK(contains(run({"--calib", "0"}), "--calib"));
  std::string err = run({"--method", "bogus"});
  CHECK(contains(err, "--method"));
  CHECK(contains(err, "rtn, adaround, brecq, qdrop, nwq"));
  CHECK(contains(run({"--scope", "global"}), "--scope"));
  CHECK(contains(run({"--rounding", "floor"}), "--rounding"));
  CHECK(contains(run({"--mix", "mixup"}), "--mix"));
  CHECK(contains(run({"--scope", "block"}), "amixup"));  // nwq's amixup needs scope network
  CHECK(contains(run({"--method", "rtn", "--rounding", "adaround"}), "scope"));
  CHECK(contains(run({"--candidates", "1:2"}), "--candidates"));
  CHECK(contains(run({"--candidates", "0:0.5"}), "--candidates"));
  CHECK(contains(run({"--tau", "1"}), "--tau"));
  CHECK(contains(run({"--beta", "a:b"}), "--beta"));
  CHECK(contains(run({"--drop-p", "2"}), "--drop-p"));
  CHECK(contains(run({"--observer", "minmax"}), "--observer"));
  CHECK(contains(run({"--calib-on", "int"}), "--calib-on"));
  CHECK(contains(run({"--loss-reduce", "mean"}), "--loss-reduce"));
  CHECK(contains(run({"--act-grad-scale", "2"}), "--act-grad-scale"));
  CHECK(contains(run({"--model", "resnet7"}), "resnet20"));
  CHECK(contains(run({"--device", "tpu"}), "--device"));
  CHECK(contains(quantize_error({"--weights", weights, "--out", "/no/such/dir/q.safetensors"}),
                 "does not exist"));
  CHECK(contains(quantize_error({"--weights", weights, "--report", "/no/such/dir/r.json"}),
                 "does not exist"));
  CHECK_FALSE(exists(out));
  CHECK_FALSE(exists(report));

  // Weights without a model name need --model.
  const std::string anonymous = dir / "anonymous.safetensors";
  create_model("resnet20", 10, 1, 0)->save(anonymous);
  err = quantize_error({"--weights", anonymous, "--quiet"});
  CHECK(contains(err, anonymous));
  CHECK(contains(err, "--model"));
}

TEST_CASE("quant cli: more calibration images than the training split is an error") {
  if (!have_fmnist()) {
    MESSAGE("skipped: Fashion-MNIST is not installed");
    return;
  }
  TempDir dir;
  const std::string weights = save_fp_weights(dir), out = dir / "q.safetensors";
  std::string err = quantize_error({"--weights", weights, "--calib", "60001", "--out", out,
                                    "--quiet", "--no-fp-eval"});
  CHECK(contains(err, "--calib"));
  CHECK(contains(err, "60000"));
  CHECK_FALSE(exists(out));
}
