// The range observers: QDrop's MSE observer (quant/mse_observer.h) against a brute-force twin
// written as QDrop's loop reads (every range, every zero point, every value, std::pow), the fast
// power against std::pow, and the calibration orders (full-precision network or quantized prefix).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "autograd/grad_mode.h"
#include "core/rng.h"
#include "ops/lp_error.h"
#include "quant/mse_observer.h"
#include "quant/range_search.h"
#include "quant/reconstruct.h"
#include "models/registry.h"
#include "tests/helpers.h"
#include "tests/quant_test_util.h"

using namespace nwq;

namespace {

// QDrop's calculate_qparams in float (asymmetric).
void qparams(float lo, float hi, int qmax, float& s, float& z) {
  const float mn = std::min(lo, 0.0f), mx = std::max(hi, 0.0f);
  s = std::max((mx - mn) / float(qmax), 1e-8f);
  z = std::min(std::max(0.0f - std::nearbyint(mn / s), 0.0f), float(qmax));
}

double brute_error(const std::vector<float>& x, float lo, float hi, int qmax, double p) {
  float s, z;
  qparams(lo, hi, qmax, s, z);
  double err = 0;
  for (float v : x) {
    float q = std::min(std::max(std::nearbyint(v / s) + z, 0.0f), float(qmax));
    volatile float xq = (q - z) * s;  // volatile: no fused multiply-subtract, as in PyTorch
    err += std::pow(std::fabs(double(xq - v)), p);
  }
  return err / double(x.size());
}

// QDrop's MSEObserver.forward, literally: the chosen [lo, hi] (before calculate_qparams).
// channel: the per-channel 2-D variant (min/max clamped to include 0).
void brute_observe(const std::vector<float>& x, int bits, bool channel, DataSide side, float& lo,
                   float& hi) {
  const int qmax = (1 << bits) - 1;
  float x_min = *std::min_element(x.begin(), x.end()), x_max = *std::max_element(x.begin(), x.end());
  if (channel && side == DataSide::TwoSided) x_min = std::min(x_min, 0.0f), x_max = std::max(x_max, 0.0f);
  double best = 1e10;
  lo = x_min, hi = x_max;
  if (side != DataSide::TwoSided) {
    const float xrange = std::max(std::fabs(x_min), x_max);
    for (int i = 1; i <= 100; ++i) {
      const float t = xrange / 100.0f * float(i);
      const float a = side == DataSide::NonNegative ? 0.0f : -t, b = side == DataSide::NonPositive ? 0.0f : t;
      const double e = brute_error(x, a, b, qmax, 2.4);
      if (e < best) best = e, lo = a, hi = b;
    }
    return;
  }
  const float xrange = x_max - x_min;
  for (int i = 1; i <= 100; ++i) {
    const float tmp_max = xrange / 100.0f * float(i), delta = tmp_max / float(qmax);
    for (int zp = 0; zp <= qmax; ++zp) {
      volatile float shift = float(zp) * delta;
      const float a = 0.0f - shift, b = tmp_max - shift;
      const double e = brute_error(x, a, b, qmax, 2.4);
      if (e < best) best = e, lo = a, hi = b;
    }
  }
}

// Both grids quantize every value to the same float (a tie between zero points of one range
// quantizes identically; which one wins may then differ by rounding of the mean).
bool same_quantization(const std::vector<float>& x, const QuantRange& a, const QuantRange& b, int bits) {
  const float qmax = float((1 << bits) - 1);
  auto fq = [&](float v, const QuantRange& r) {
    const float s = float(r.scale), z = float(r.zero_point);
    return (std::min(std::max(std::nearbyint(v / s) + z, 0.0f), qmax) - z) * s;
  };
  for (float v : x)
    if (std::fabs(fq(v, a) - fq(v, b)) > 1e-6f * (1 + std::fabs(v))) return false;
  return true;
}

std::vector<float> gaussian(int64_t n, uint64_t seed, float mean, float sd) {
  Rng rng(seed);
  std::vector<float> x(n);
  for (float& v : x) v = mean + sd * rng.normal();
  return x;
}

void check_against_brute(const std::vector<float>& x, int bits, bool channel, DataSide side) {
  float lo, hi;
  brute_observe(x, bits, channel, side, lo, hi);
  const QuantRange want = qdrop_qparams(lo, hi, bits);
  const QuantRange got = channel ? mse_observe_channel(x.data(), int64_t(x.size()), bits, 2.4, side)
                                 : mse_observe_tensor(x.data(), int64_t(x.size()), bits, 2.4);
  CHECK(got.scale == doctest::Approx(want.scale).epsilon(1e-6));
  if (got.zero_point != want.zero_point) CHECK(same_quantization(x, got, want, bits));
}

}  // namespace

TEST_CASE("quant observer: the fast power equals std::pow to 1e-11 and in every lane") {
  std::vector<float> x = gaussian(1003, 1, 0.0f, 0.05f);
  x[0] = 0.0f, x[1] = 1e-31f, x[2] = 3.0f, x[3] = -7.5f, x[4] = 1e-20f;
  std::vector<double> out(x.size());
  for (double p : {2.4, 2.0, 1.0, 3.7}) {
    CAPTURE(p);
    pow_abs_many(x.data(), out.data(), int64_t(x.size()), p);
    for (size_t j = 0; j < x.size(); ++j) {
      const double want = std::fabs(x[j]) < 1e-30f ? 0.0 : std::pow(std::fabs(double(x[j])), p);
      CHECK(out[j] == doctest::Approx(want).epsilon(1e-11));
      CHECK(out[j] == pow_abs(x[j], p));  // the vector lanes and the scalar twin agree bit for bit
    }
  }
  // The clipped-error sum stops early once it passes its limit.
  std::vector<float> v(5000, 1.0f);
  CHECK(clip_error_sum(v.data(), 5000, 0.0f, 2.4, 1e9) == doctest::Approx(5000.0));
  const double early = clip_error_sum(v.data(), 5000, 0.0f, 2.4, 10.0);
  CHECK(early > 10.0);
  CHECK(early < 5000.0);
}

TEST_CASE("quant observer: QDrop's MSE search equals the brute-force search (per tensor)") {
  for (int bits : {2, 3, 4, 8}) {
    CAPTURE(bits);
    // Two-sided (2-D search): a skewed Gaussian with an outlier.
    std::vector<float> two = gaussian(bits == 8 ? 300 : 1200, 10 + bits, 0.3f, 1.0f);
    two[17] = 6.0f;
    check_against_brute(two, bits, false, DataSide::TwoSided);
    // One-sided (1-D search): ReLU outputs with many exact zeros.
    std::vector<float> relu = gaussian(2000, 20 + bits, 0.2f, 1.0f);
    for (float& v : relu) v = std::max(v, 0.0f);
    check_against_brute(relu, bits, false, DataSide::NonNegative);
    // All non-positive.
    std::vector<float> neg = relu;
    for (float& v : neg) v = -v;
    check_against_brute(neg, bits, false, DataSide::NonPositive);
  }
}

TEST_CASE("quant observer: per-channel weights follow QDrop (2-D per channel, side per tensor)") {
  Rng rng(3);
  for (int bits : {2, 4, 8}) {
    CAPTURE(bits);
    const int64_t channels = 5, inner = bits == 8 ? 27 : 72;
    std::vector<float> w = gaussian(channels * inner, 30 + bits, 0.0f, 0.1f);
    for (int64_t j = 0; j < inner; ++j) w[2 * inner + j] = std::fabs(w[2 * inner + j]) + 0.01f;  // one positive channel
    w[4 * inner + 3] = 0.9f;  // an outlier
    Tensor wt = Tensor::from_vector(w, {channels, inner});
    Tensor scale, zp;
    observe_per_channel(wt, bits, 2.4, Observer::Mse, scale, zp);
    REQUIRE(scale.numel() == channels);
    for (int64_t c = 0; c < channels; ++c) {
      CAPTURE(c);
      std::vector<float> ch(w.begin() + c * inner, w.begin() + (c + 1) * inner);
      float lo, hi;
      brute_observe(ch, bits, true, DataSide::TwoSided, lo, hi);  // the tensor is two-sided
      const QuantRange want = qdrop_qparams(lo, hi, bits);
      const QuantRange got{scale.to_vector<float>()[c], zp.to_vector<float>()[c]};
      CHECK(got.scale == doctest::Approx(want.scale).epsilon(1e-6));
      if (got.zero_point != want.zero_point) CHECK(same_quantization(ch, got, want, bits));
    }
  }
  // A weight that is non-negative everywhere: the 1-D search per channel, zero point 0.
  std::vector<float> pos = gaussian(3 * 40, 7, 0.0f, 0.2f);
  for (float& v : pos) v = std::fabs(v);
  Tensor scale, zp;
  observe_per_channel(Tensor::from_vector(pos, {3, 40}), 4, 2.4, Observer::Mse, scale, zp);
  for (int64_t c = 0; c < 3; ++c) {
    std::vector<float> ch(pos.begin() + c * 40, pos.begin() + (c + 1) * 40);
    float lo, hi;
    brute_observe(ch, 4, true, DataSide::NonNegative, lo, hi);
    CHECK(scale.to_vector<float>()[c] == doctest::Approx(qdrop_qparams(lo, hi, 4).scale).epsilon(1e-6));
    CHECK(zp.to_vector<float>()[c] == 0);
  }
}

TEST_CASE("quant observer: edge cases and errors") {
  std::vector<float> zeros(50, 0.0f);
  QuantRange z = mse_observe_tensor(zeros.data(), 50, 4, 2.4);
  CHECK(z.scale == doctest::Approx(1e-8));  // QDrop's eps
  CHECK(z.zero_point == 0);
  std::vector<float> bad = {1.0f, NAN, 2.0f};
  CHECK_THROWS_WITH_AS(mse_observe_tensor(bad.data(), 3, 4, 2.4), doctest::Contains("non-finite"), Error);
  CHECK_THROWS_WITH_AS(mse_observe_tensor(bad.data(), 0, 4, 2.4), doctest::Contains("no values"), Error);
  CHECK(to_string(parse_observer("mse", "--observer")) == "mse");
  CHECK(to_string(parse_observer("shrink", "--observer")) == "shrink");
  CHECK_THROWS_WITH_AS(parse_observer("minmax", "--observer"), doctest::Contains("--observer"), Error);
  // The grid of a range includes 0 and rounds the zero point like QDrop.
  QuantRange g = qdrop_qparams(-1.0f, 3.0f, 2);
  CHECK(g.scale == doctest::Approx(4.0 / 3));
  CHECK(g.zero_point == 1);
}

TEST_CASE("quant observer: a large one-sided tensor uses every value (no sampling)") {
  // 300k values: a sampled search would see a different maximum tail; the full search must match
  // the brute force on the same values.
  std::vector<float> x = gaussian(300000, 5, 0.0f, 1.0f);
  for (float& v : x) v = std::max(v, 0.0f);
  x[123457] = 9.0f;  // one value the old 2^17-sample stride would skip
  const QuantRange got = mse_observe_tensor(x.data(), int64_t(x.size()), 4, 2.4);
  float lo, hi;
  brute_observe(x, 4, false, DataSide::NonNegative, lo, hi);
  CHECK(got.scale == doctest::Approx(qdrop_qparams(lo, hi, 4).scale).epsilon(1e-6));
}

namespace {

// A resnet20 for 1-channel 8x8 images with trained-looking BN statistics.
std::shared_ptr<QuantModel> tiny_resnet20(CalibOn calib_on, const Tensor& images) {
  ModelPtr model = create_model("resnet20", 10, 1, 3);
  test::randomize_all_bn(*model, 11);
  QuantConfig c = preset_config("rtn", "resnet20");
  c.wbits = 2, c.abits = 4, c.calib_on = calib_on;
  return std::make_shared<QuantModel>(model, images.slice(0, 0, 2), c);
}

ActQuantizerPtr find_act(const QuantModel& qm, const std::string& name) {
  for (const auto& a : qm.acts())
    if (a.name == name) return a.quantizer;
  FAIL("no activation quantizer " << name);
  return nullptr;
}

}  // namespace

TEST_CASE("quant observer: calibration on the FP network observes FP activations (QDrop order)") {
  NoGradGuard no_grad;
  const Tensor images = test::rand32({16, 1, 8, 8}, 21);
  auto fp_calib = tiny_resnet20(CalibOn::Fp, images);
  auto q_calib = tiny_resnet20(CalibOn::Quantized, images);
  // The FP block outputs, from the prepared model in Float mode.
  std::vector<Tensor> fp_out;
  {
    FloatModeGuard guard(*fp_calib);
    Tensor h = images;
    for (size_t b = 0; b < fp_calib->num_blocks(); ++b) fp_out.push_back(h = fp_calib->run_block(b, h));
  }
  calibrate(*fp_calib, images);
  calibrate(*q_calib, images);
  for (const auto& a : fp_calib->acts()) CHECK(a.quantizer->state == ActQuantizer::State::On);
  for (size_t b : {size_t(0), size_t(4), size_t(9)}) {
    const std::string name = fp_calib->block_name(b) + ":out";
    CAPTURE(name);
    Tensor x = fp_out[b].contiguous();
    const ActQuantizerPtr q = find_act(*fp_calib, name);
    const QuantRange want = mse_observe_tensor(x.data<float>(), x.numel(), q->bits(), 2.4);
    CHECK(q->scale.item() == float(want.scale));
    CHECK(q->zero_point.item() == want.zero_point);
    // On the quantized prefix (2-bit weights), deeper ranges come out differently.
    if (b > 0) CHECK(find_act(*q_calib, name)->scale.item() != float(want.scale));
  }
  // Weight grids do not depend on the activation calibration order.
  for (size_t l = 0; l < fp_calib->layers().size(); ++l)
    CHECK(test::same_bytes(fp_calib->layers()[l].layer->scale, q_calib->layers()[l].layer->scale));

  // Observe: the range is set from the input, which passes through unquantized.
  ActQuantizer q(3);
  q.state = ActQuantizer::State::Observe;
  Tensor x = test::rand32({2, 3, 4, 4}, 5, 0.0, 2.0);
  CHECK(test::same_bytes(q.forward(x), x));
  CHECK(q.state == ActQuantizer::State::On);
  CHECK_FALSE(test::same_bytes(q.forward(x), x));
}

TEST_CASE("act quantizer: a learned step pushed through zero is mirrored and floored (QDrop LSQ)") {
  // QDrop's LSQFakeQuantize runs scale.abs_().clamp_(min=FLT_EPSILON) before each quantizing
  // forward; without it a negative step stops the CPU op and turns the CUDA one into NaNs.
  Tensor x = test::rand32({2, 3, 4, 4}, 7, -0.5, 2.0);
  for (double step : {-0.125, 0.0, -1e-9, 0.25}) {
    ActQuantizer q(4);
    q.state = ActQuantizer::State::On;
    q.set_range(step, 3.0);
    const Tensor y = q.forward(x);
    const double want = std::max(std::fabs(step), double(std::numeric_limits<float>::epsilon()));
    CHECK(q.scale.item() == doctest::Approx(want).epsilon(1e-7));
    ActQuantizer ref(4);
    ref.state = ActQuantizer::State::On;
    ref.set_range(want, 3.0);
    CHECK(test::same_bytes(y, ref.forward(x)));
  }
}
