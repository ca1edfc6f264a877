// The integer engine: the requantization against 128-bit arithmetic and the real multiplier, and
// whole networks against nwq's fake-quant forward on Fashion-MNIST (logits bound, top-1). The
// packed convolution's kernels are checked in tests/test_int_conv.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "autograd/grad_mode.h"
#include "core/rng.h"
#include "data/sources.h"
#include "deploy/int_engine.h"
#include "models/registry.h"
#include "quant/reconstruct.h"
#include "core/torch_checkpoint.h"
#include "quant/export.h"
#include "tests/helpers.h"
#include "tests/temp_dir.h"
#include "tools/lib/commands.h"
#include "train/trainer.h"

using namespace nwq;

namespace {

#ifdef __SANITIZE_ADDRESS__
constexpr bool kSanitizer = true;  // the sanitizer build checks one network (about 10x slower)
#else
constexpr bool kSanitizer = false;
#endif

// Integers uniform in [lo, hi].
std::vector<int> random_ints(size_t n, int lo, int hi, Rng& rng) {
  std::vector<int> v(n);
  for (int& x : v) x = lo + int(rng.next_u64() % uint64_t(hi - lo + 1));
  return v;
}

// The first `count` Fashion-MNIST test images, normalized as nwq eval reads them.
Tensor fmnist_images(int64_t first, int64_t count) {
  static DataSplits data = open_data("fmnist", false, false);
  Tensor x = Tensor::empty({count, 1, 28, 28});
  Rng rng(0);
  for (int64_t i = 0; i < count; ++i) data.test->get(first + i, x.data<float>() + i * 784, rng);
  return x;
}

// A committed checkpoint quantized by round-to-nearest at W/A bits, calibrated on 64 images.
std::shared_ptr<QuantModel> rtn_model(const std::string& model_name, const std::string& weights,
                                      int wbits, int abits) {
  ModelPtr model = create_model(model_name, 10, 1, 0);
  model->load_checkpoint(weights);
  QuantConfig c = preset_config("rtn", model_name);
  c.wbits = wbits, c.abits = abits, c.calib = 64, c.init_images = 64;
  const Tensor calib = fmnist_images(5000, 64);
  auto qm = std::make_shared<QuantModel>(model, calib.slice(0, 0, 2), c);
  calibrate(*qm, calib);
  return qm;
}

int64_t argmax_row(const Tensor& logits, int64_t row) {
  const float* v = logits.data<float>() + row * logits.size(1);
  return std::max_element(v, v + logits.size(1)) - v;
}

}  // namespace

TEST_CASE("int kernels: requantization is exact fixed point, within one code of the real multiplier") {
  Rng rng(11);
  int off_by_one = 0, total = 0;
  for (double multiplier : {3.1e-4, 0.0123, 0.7071, 1.0, 5.5, 1234.5}) {
    for (double bias : {0.0, -3.25, 17.6}) {
      ChannelRequant r;
      REQUIRE(make_requant(multiplier, bias, &r));
      CHECK(r.m0 >= (int64_t{1} << 30));
      CHECK(r.m0 <= (int64_t{1} << 31));
      const std::vector<int> accs = random_ints(500, -200000, 200000, rng);
      std::vector<int32_t> acc(accs.begin(), accs.end());
      std::vector<uint8_t> out(acc.size());
      requantize(acc.data(), int64_t(acc.size()), r, 7, 0, 255, out.data());
      for (size_t i = 0; i < acc.size(); ++i) {
        const __int128 v = __int128(acc[i]) * r.m0 + r.bias + (__int128(1) << (r.shift - 1));
        const int64_t q = std::clamp<int64_t>(int64_t(v >> r.shift) + 7, 0, 255);
        CHECK(int(out[i]) == q);
        const double real = std::floor(double(acc[i]) * multiplier + bias + 0.5) + 7;
        const int64_t want = std::clamp<int64_t>(int64_t(real), 0, 255);
        CHECK(std::abs(q - want) <= 1);
        off_by_one += q != want, ++total;
      }
    }
  }
  CHECK(off_by_one * 1000 < total);  // the fixed point misses the real product in < 0.1% of cases
  ChannelRequant r;
  CHECK_FALSE(make_requant(0.0, 0.0, &r));
  CHECK_FALSE(make_requant(std::nan(""), 0.0, &r));
  CHECK_FALSE(make_requant(1e-30, 0.0, &r));  // the shift would pass 62 bits
}

TEST_CASE("int engine: Fashion-MNIST networks give fake-quant's logits and top-1") {
  // resnet20 at W8A8, W4A4 and W2A4 (RTN), mobilenetv2_cifar at W4A4: the integer engine against
  // QuantModel's fake-quant forward on 200 test images. The codes differ only where a value lies
  // within rounding error of a code boundary (float sums vs exact int32, round half up vs half to
  // even), so the logits agree to a small fraction of their range and top-1 almost always.
  struct Case {
    const char* model;
    const char* weights;
    int wbits, abits;
  };
  const Tensor x = fmnist_images(0, 200);
  for (const Case& c : {Case{"resnet20", "models/weights/fmnist_resnet20.safetensors", 8, 8},
                        Case{"resnet20", "models/weights/fmnist_resnet20.safetensors", 4, 4},
                        Case{"resnet20", "models/weights/fmnist_resnet20.safetensors", 2, 4},
                        Case{"mobilenetv2_cifar", "models/weights/fmnist_mobilenetv2_cifar.safetensors", 8, 8},
                        Case{"mobilenetv2_cifar", "models/weights/fmnist_mobilenetv2_cifar.safetensors", 4, 4}}) {
    if (kSanitizer && !(c.wbits == 4 && std::string(c.model) == "resnet20")) continue;
    CAPTURE(std::string(c.model));
    CAPTURE(c.wbits);
    CAPTURE(c.abits);
    auto qm = rtn_model(c.model, c.weights, c.wbits, c.abits);
    OnnxExportOptions in;
    in.channels = 1, in.height = 28, in.width = 28, in.num_classes = 10;
    IntEngine engine(*qm, c.model, in);
    NoGradGuard no_grad;
    qm->eval();
    const Tensor fq = qm->forward(x), got = engine.forward(x);
    REQUIRE(got.sizes() == fq.sizes());
    const IntEngineStats& st = engine.stats();
    CAPTURE(st.float_layer_names.size() > 1 ? st.float_layer_names[1] : std::string());
    CHECK(st.float_layers == 1);  // only the first conv (the image is not quantized)
    CHECK(st.int_layers >= 18);   // every other conv and the linear layer (on the pooled codes)
    CHECK(st.requantized >= 9);   // conv -> ReLU -> quantizer chains
    const double range = test::max_abs(fq);
    CHECK(test::max_abs_diff(got, fq) <= 0.05 * range);
    // Most logits are equal or nearly: the drift comes from the few codes that flipped.
    double mean_diff = 0;
    for (int64_t i = 0; i < got.numel(); ++i)
      mean_diff += std::fabs(got.data<float>()[i] - fq.data<float>()[i]) / double(got.numel());
    CHECK(mean_diff <= 0.002 * range);
    int same = 0;
    for (int64_t i = 0; i < x.size(0); ++i) same += argmax_row(got, i) == argmax_row(fq, i);
    MESSAGE(c.model, " W", c.wbits, "A", c.abits, ": max |logit diff| ", test::max_abs_diff(got, fq),
            " mean ", mean_diff, " of range ", range, ", top-1 agrees on ", same, "/200 (", int_isa_name(engine.isa()), ")");
    CHECK(same >= 199);
  }
}

TEST_CASE("int engine: nwq eval --engine int gives fake-quant's top-1; bad uses are refused") {
  CHECK_THROWS_WITH_AS(cmd_eval({"--weights", "models/weights/fmnist_resnet20.safetensors", "--engine",
                                 "int", "--limit", "4", "--quiet"}),
                       doctest::Contains("--engine int needs a quantized file"), Error);
  CHECK_THROWS_WITH_AS(cmd_eval({"--weights", "models/weights/fmnist_resnet20.safetensors", "--engine",
                                 "float", "--limit", "4", "--quiet"}),
                       doctest::Contains("--engine must be fake or int, got 'float'"), Error);
  if (kSanitizer) return;  // the engine itself is checked above under the sanitizers
  test::TempDir dir;
  const std::string q = dir / "q.safetensors";
  REQUIRE(cmd_quantize({"--weights", "models/weights/fmnist_resnet20.safetensors", "--data", "fmnist",
                        "--method", "rtn", "--wbits", "4", "--abits", "4", "--calib", "64",
                        "--no-fp-eval", "--eval-limit", "10", "--out", q, "--quiet"}) == 0);
  auto top1 = [&](const char* engine) {
    DataSplits data = open_data("fmnist", false, false);
    const TensorFile f = load_weights_file(q);
    auto qm = load_quantized(f, 10, 1, 28, 28, Device::cpu());
    OnnxExportOptions in;
    in.channels = 1, in.height = 28, in.width = 28;
    std::shared_ptr<Module> m = qm;
    if (std::string(engine) == "int") m = std::make_shared<IntEngine>(*qm, "resnet20", in);
    EvalOptions o;
    o.limit = 1000, o.progress = false;
    return evaluate(*m, *data.test, o).top1;
  };
  CHECK(top1("int") == top1("fake"));
  CHECK(cmd_eval({"--weights", q, "--engine", "int", "--limit", "100", "--quiet"}) == 0);
}
