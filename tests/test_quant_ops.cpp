// Quantization ops on the CPU: fake_quant against a scalar formula (half-even ties, both clamp
// sides, per tensor and per channel), its straight-through and LSQ gradients, quantizer error
// bounds per bit width, F64 gradient checks of soft rounding and mixing, and error messages.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>

#include "autograd/engine.h"
#include "core/rng.h"
#include "ops/fake_quant.h"
#include "ops/mix.h"
#include "ops/soft_round.h"
#include "tests/helpers.h"

using namespace nwq;

namespace {

using TensorFn = std::function<Tensor(const std::vector<Tensor>&)>;

// q = clamp(round_half_even(x / s) + z, qmin, qmax); y = (q - z) s, in T like the kernel.
template <class T>
T fake_quant_ref(T x, T s, T z, double qmin, double qmax, bool* inside = nullptr,
                 T* step_grad = nullptr) {
  const T v = x / s, r = std::nearbyint(v);
  T q = r + z;
  if (inside) *inside = q >= T(qmin) && q <= T(qmax);
  if (step_grad) *step_grad = q < T(qmin) ? T(qmin) - z : (q > T(qmax) ? T(qmax) - z : r - v);
  q = q < T(qmin) ? T(qmin) : (q > T(qmax) ? T(qmax) : q);
  return (q - z) * s;
}

// The channel of flat element i of a tensor of `shape` quantized along `axis` (-1: 0).
int64_t channel_of(int64_t i, const Shape& shape, int axis) {
  if (axis < 0) return 0;
  int64_t inner = 1;
  for (size_t d = size_t(axis) + 1; d < shape.size(); ++d) inner *= shape[d];
  return (i / inner) % shape[size_t(axis)];
}

// Values on a grid of quarter steps of `s` (exact ties at every half step) over a range that
// clamps on both sides for the grid [qmin, qmax] and zero points in [-2, 2].
template <class T>
Tensor tie_values(const Shape& shape, double s, uint64_t seed) {
  Rng rng(seed);
  Tensor x = Tensor::empty(shape, dtype_of<T>());
  for (int64_t i = 0; i < x.numel(); ++i) x.data<T>()[i] = T((rng.randint(161) - 80) * 0.25 * s);
  return x;
}

template <class T>
void check_forward_against_formula(const Shape& shape, int axis) {
  const int64_t channels = axis < 0 ? 1 : shape[size_t(axis)];
  std::vector<T> s(channels), z(channels);
  for (int64_t c = 0; c < channels; ++c) {
    s[c] = T(0.25 * (1 << (c % 3)));  // powers of two: x / s and the ties are exact
    z[c] = T(int(c % 5) - 2);
  }
  Tensor x = tie_values<T>(shape, 0.5, 7 + axis);
  Tensor scale = Tensor::from_vector(s, {channels}), zp = Tensor::from_vector(z, {channels});
  Tensor y = fake_quant(x, scale, zp, -8, 7, axis);
  REQUIRE(y.sizes() == shape);
  int ties = 0, low = 0, high = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t c = channel_of(i, shape, axis);
    const T xv = x.data<T>()[i];
    const T ref = fake_quant_ref<T>(xv, s[c], z[c], -8, 7);
    if (y.data<T>()[i] != ref)
      FAIL_CHECK("element ", i, " x ", xv, ": ", y.data<T>()[i], " vs ", ref);
    const T v = xv / s[c];
    ties += v - std::floor(v) == T(0.5);
    low += std::nearbyint(v) + z[c] < -8;
    high += std::nearbyint(v) + z[c] > 7;
  }
  CHECK(ties > 10);  // the test really covers ties and both clamp sides
  CHECK(low > 5);
  CHECK(high > 5);
}

}  // namespace

TEST_CASE("quant ops: fake_quant rounds half to even and clamps (hand-computed table)") {
  // s = 1, z = 0, grid [-4, 3]: ties go to the even neighbour, as torch.round.
  Tensor x = test::tensor({0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5, -4.5, 10, -10, 0.49, -3.51}, {12});
  Tensor y = fake_quant(x, test::tensor({1}, {1}), Tensor(), -4, 3);
  CHECK(y.to_vector<double>() == std::vector<double>{0, 2, 2, -0.0, -2, -2, 3, -4, 3, -4, 0, -4});
  // s = 0.5, z = 3, unsigned 3-bit grid [0, 7]: y = (clamp(round(x / s) + 3, 0, 7) - 3) * 0.5.
  Tensor x2 = test::tensor({0.25, 0.75, -1.25, -1.75, 2.0, 2.25, -5.0}, {7});
  Tensor y2 = fake_quant(x2, test::tensor({0.5}, {1}), test::tensor({3}, {1}), 0, 7);
  CHECK(y2.to_vector<double>() == std::vector<double>{0, 1, -1, -1.5, 2, 2, -1.5});
}

TEST_CASE("quant ops: fake_quant matches the scalar formula per tensor and per channel") {
  check_forward_against_formula<float>({257}, -1);
  check_forward_against_formula<double>({257}, -1);
  check_forward_against_formula<float>({5, 3, 7}, -1);
  check_forward_against_formula<float>({6, 3, 11}, 0);
  check_forward_against_formula<double>({6, 3, 11}, 0);
  check_forward_against_formula<float>({4, 7, 3, 5}, 1);
  check_forward_against_formula<double>({4, 7, 3, 5}, 1);
  check_forward_against_formula<float>({3, 5, 40}, 2);
  // a scale of shape [C, 1, 1, 1] works like [C]
  Tensor w = tie_values<float>({4, 2, 3, 3}, 0.25, 3);
  Tensor s = Tensor::full({4}, 0.25), s4 = Tensor::full({4, 1, 1, 1}, 0.25);
  CHECK(test::max_abs_diff(fake_quant(w, s, Tensor(), -8, 7, 0),
                           fake_quant(w, s4, Tensor(), -8, 7, 0)) == 0);
}

TEST_CASE("quant ops: fake_quant straight-through contract and LSQ scale gradient are exact") {
  for (int axis : {-1, 0, 1}) {
    INFO("axis ", axis);
    const Shape shape{3, 4, 5};
    const int64_t channels = axis < 0 ? 1 : shape[size_t(axis)];
    Tensor x = tie_values<double>(shape, 0.0625, 11).set_requires_grad(true);
    std::vector<double> s(channels), z(channels);
    for (int64_t c = 0; c < channels; ++c) {
      s[c] = 0.25 * (1 << (c % 2));
      z[c] = double(c % 3);
    }
    Tensor scale = test::tensor(s, {channels}).set_requires_grad(true);
    Tensor zp = test::tensor(z, {channels});
    Rng rng(5);
    std::vector<double> g(60);
    for (double& v : g) v = double(rng.randint(33) - 16) / 8;  // eighths: every sum is exact
    backward(fake_quant(x, scale, zp, 0, 7, axis, 0.5), test::tensor(g, shape));
    std::vector<double> gs_ref(channels, 0.0), gx = x.grad().to_vector<double>();
    int inside_count = 0;
    for (int64_t i = 0; i < 60; ++i) {
      const int64_t c = channel_of(i, shape, axis);
      bool inside;
      double d;
      fake_quant_ref<double>(x.data<double>()[i], s[c], z[c], 0, 7, &inside, &d);
      inside_count += inside;
      CHECK(gx[i] == (inside ? g[i] : 0.0));  // exactly gy inside, exactly 0 outside
      gs_ref[c] += g[i] * d;
    }
    CHECK(inside_count > 10);
    CHECK(inside_count < 50);
    for (double& v : gs_ref) v *= 0.5;
    CHECK(scale.grad().to_vector<double>() == gs_ref);
  }
}

TEST_CASE("quant ops: fake_quant computes only the gradients that are needed") {
  Tensor x = test::random({2, 3}, 1, -2, 2, true);
  Tensor s = test::tensor({0.5}, {1});
  backward(fake_quant(x, s, Tensor(), -2, 1), test::tensor({1, 1, 1, 1, 1, 1}, {2, 3}));
  CHECK(x.grad().defined());
  CHECK_FALSE(s.grad().defined());
  Tensor x2 = test::random({2, 3}, 1, -2, 2, false);
  Tensor s2 = test::tensor({0.5}, {1}).set_requires_grad(true);
  backward(fake_quant(x2, s2, Tensor(), -2, 1), test::tensor({1, 1, 1, 1, 1, 1}, {2, 3}));
  CHECK(s2.grad().defined());
  CHECK(s2.grad().sizes() == Shape{1});
}

TEST_CASE("quant ops: fake_quant scale gradient of a large tensor is exact and repeatable") {
  // 3 * 2^15 + 17 elements in 6 chunks: the fixed-order sum equals the exact sum.
  const int64_t n = 3 * (1 << 15) + 17;
  Tensor x = tie_values<float>({n}, 0.5, 21).set_requires_grad(true);
  Tensor s = Tensor::full({1}, 0.5).set_requires_grad(true);
  Tensor g = Tensor::full({n}, 0.125);
  backward(fake_quant(x, s, Tensor(), 0, 15, -1, 1.0), g);
  double ref = 0;
  for (int64_t i = 0; i < n; ++i) {
    float d;
    fake_quant_ref<float>(x.data<float>()[i], 0.5f, 0.f, 0, 15, nullptr, &d);
    ref += 0.125 * double(d);
  }
  const float first = s.grad().to_vector<float>()[0];
  CHECK(first == float(ref));
  s.zero_grad();
  backward(fake_quant(x, s, Tensor(), 0, 15, -1, 1.0), g);
  CHECK(s.grad().to_vector<float>()[0] == first);
}

TEST_CASE("quant ops: fake_quant error is at most s/2 inside the range for 2..8 bits") {
  Rng rng(3);
  for (int bits = 2; bits <= 8; ++bits) {
    INFO("bits ", bits);
    const int64_t qmax = (int64_t(1) << bits) - 1;
    const float s = 0.037f, z = float(qmax / 3);
    const float lo = (0 - z) * s, hi = (float(qmax) - z) * s;
    Tensor x = Tensor::uniform({4096}, rng, lo, hi);
    Tensor y = fake_quant(x, Tensor::full({1}, s), Tensor::full({1}, z), 0, qmax);
    double worst = 0;
    for (int64_t i = 0; i < 4096; ++i) {
      worst = std::max(worst, std::fabs(double(y.data<float>()[i]) - x.data<float>()[i]));
    }
    CHECK(worst <= s / 2 + 1e-6);
    CHECK(worst > s / 2 * 0.9);  // and the bound is tight
    // outside the range the output is the nearest end of the grid
    Tensor out = Tensor::from_vector<float>({lo - 1, hi + 1}, {2});
    std::vector<float> yo =
        fake_quant(out, Tensor::full({1}, s), Tensor::full({1}, z), 0, qmax).to_vector<float>();
    CHECK(yo[0] == (0 - z) * s);
    CHECK(yo[1] == (float(qmax) - z) * s);
  }
}

TEST_CASE("quant ops: adaround h, regularizer and soft weight pass F64 gradient checks") {
  // V in [-2, 2]: sigmoid(V) * 1.2 - 0.1 stays inside (0, 1), away from the clamp kinks;
  // V in [3, 5]: h is clamped to 1 and the gradient is 0.
  Tensor v = test::random({3, 4}, 2, -2, 2, true);
  Tensor v_clamped = test::random({5}, 3, 3, 5, true);
  test::gradcheck([](const std::vector<Tensor>& in) { return adaround_h(in[0]); }, {v});
  test::gradcheck([](const std::vector<Tensor>& in) { return adaround_h(in[0]); }, {v_clamped});
  CHECK(v_clamped.grad().to_vector<double>() == std::vector<double>(5, 0.0));
  for (double beta : {2.0, 3.7, 20.0}) {
    test::gradcheck(
        [beta](const std::vector<Tensor>& in) { return adaround_regularizer(in[0], beta); }, {v});
  }
  // the regularizer value: sum of 1 - |2h - 1|^beta
  Tensor r = adaround_regularizer(v, 2.0);
  CHECK(r.sizes() == Shape{});
  double ref = 0;
  for (double h : adaround_h(v).to_vector<double>()) ref += 1 - std::pow(std::fabs(2 * h - 1), 2.0);
  CHECK(r.item() == doctest::Approx(ref).epsilon(1e-12));
  // soft weight, per channel: w_floor + z in [qmin, qmax - 1] keeps w_floor + h + z inside the grid
  Tensor wf = test::tensor({0, 1, 2, 6, -1, 0, 3, 4, 1, 2, 5, 0}, {3, 2, 2});
  Tensor s = test::tensor({0.1, 0.2, 0.05}, {3}), z = test::tensor({1, 0, 2}, {3});
  Tensor vw = test::random({3, 2, 2}, 4, -2, 2, true);
  test::gradcheck(
      [&](const std::vector<Tensor>& in) { return adaround_soft_weight(wf, in[0], s, z, 0, 7); },
      {vw});
  // the value: s * (clamp(w_floor + h + z) - z)
  std::vector<double> y = adaround_soft_weight(wf, vw, s, z, 0, 7).to_vector<double>();
  std::vector<double> h = adaround_h(vw).to_vector<double>();
  for (int i = 0; i < 12; ++i) {
    const double sc = s.data<double>()[i / 4], zc = z.data<double>()[i / 4];
    const double t = std::min(std::max(wf.data<double>()[i] + h[i] + zc, 0.0), 7.0);
    CHECK(y[i] == doctest::Approx(sc * (t - zc)).epsilon(1e-14));
  }
}

TEST_CASE("quant ops: adaround soft weight gradient is zero where the grid clamp is active") {
  Tensor wf = test::tensor({9, -3, 2}, {3});  // above, below, inside [0, 7] (z = 0)
  Tensor v = test::tensor({0.3, -0.2, 0.1}, {3}).set_requires_grad(true);
  Tensor y = adaround_soft_weight(wf, v, test::tensor({0.5}, {1}), Tensor(), 0, 7);
  CHECK(y.to_vector<double>()[0] == 3.5);
  CHECK(y.to_vector<double>()[1] == 0.0);
  backward(y, test::tensor({1, 1, 1}, {3}));
  std::vector<double> gv = v.grad().to_vector<double>();
  CHECK(gv[0] == 0.0);
  CHECK(gv[1] == 0.0);
  CHECK(gv[2] > 0.0);
}

TEST_CASE("quant ops: hard rounding of adaround and asoftmax") {
  Tensor v = test::tensor({-0.1, 0.0, 2.0, -3.0}, {4});
  CHECK(hard_round_adaround(v).to_vector<double>() == std::vector<double>{0, 1, 1, 0});
  // candidates -1..1 ([3, 4]); ties go to the first maximum
  Tensor va = test::tensor({5, 0, 1, 1, 0, 5, 1, 2, 0, 0, 3, 1}, {3, 4});
  Tensor r = hard_round_asoftmax(va, -1);
  CHECK(r.sizes() == Shape{4});
  CHECK(r.to_vector<double>() == std::vector<double>{-1, 0, 1, 0});
}

TEST_CASE("quant ops: asoftmax soft weight passes F64 gradient checks for several tau") {
  // w_floor + z in [2, 4]: w_floor + r + z stays inside [0, 7] for r in (-1, 2)
  Tensor wf = test::tensor({1, 2, 2, 1, 2, 1, 3, 2, 3, 2, 4, 2}, {3, 4});
  Tensor s = test::tensor({0.1, 0.2, 0.05}, {3}), z = test::tensor({2, 1, 0}, {3});
  for (int64_t n : {0, -1}) {
    const int64_t k = n == 0 ? 2 : 4;  // 0..1 and -1..2
    for (double tau : {1.0, 0.5, 0.1}) {
      INFO("n ", n, " tau ", tau);
      Tensor v = test::random({k, 3, 4}, 5 + k, -1, 1, true);
      test::gradcheck(
          [&](const std::vector<Tensor>& in) {
            return asoftmax_soft_weight(wf, in[0], n, tau, s, z, 0, 7);
          },
          {v}, 1e-6, 1e-5);
    }
  }
  // outside the grid the gradient is zero
  Tensor v = test::random({2, 2}, 3, -1, 1, true);
  backward(asoftmax_soft_weight(test::tensor({20, 3}, {2}), v, 0, 0.5, test::tensor({0.1}, {1}),
                                Tensor(), 0, 7),
           test::tensor({1, 1}, {2}));
  std::vector<double> gv = v.grad().to_vector<double>();
  CHECK(gv[0] == 0.0);
  CHECK(gv[2] == 0.0);
  CHECK(gv[1] != 0.0);
}

TEST_CASE("quant ops: asoftmax at small tau approaches the hard argmax") {
  Tensor wf = test::tensor({0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor s = test::tensor({0.1, 0.3}, {2});
  // candidates -1..1; the top two logits of each weight differ by at least 0.3
  Tensor v = test::tensor({0.5, -0.3, 0.1, 0.9, -0.5, 0.0,   // k = -1
                           0.2, 0.4, -0.6, 0.1, 0.3, -0.2,   // k = 0
                           -0.1, 0.1, 0.7, 0.4, 0.6, 0.35},  // k = 1
                          {3, 2, 3});
  Tensor hard = hard_round_asoftmax(v, -1);
  CHECK(hard.to_vector<double>() == std::vector<double>{-1, 0, 1, -1, 1, 1});
  Tensor y_hard = Tensor::empty({2, 3}, DType::F64);
  for (int i = 0; i < 6; ++i) {
    y_hard.data<double>()[i] =
        s.data<double>()[i / 3] *
        std::min(std::max(wf.data<double>()[i] + hard.data<double>()[i], 0.0), 15.0);
  }
  double previous = INFINITY;
  for (double tau : {0.3, 0.03, 1e-3}) {
    const double err =
        test::max_abs_diff(asoftmax_soft_weight(wf, v, -1, tau, s, Tensor(), 0, 15), y_hard);
    CHECK(err < previous);
    previous = err;
  }
  CHECK(previous < 1e-12);
}

TEST_CASE("quant ops: asoftmax init logits reproduce the fractional part") {
  Rng rng(13);
  std::vector<double> f(200);
  for (double& v : f) v = rng.uniform_f64();
  f[0] = 0.0, f[1] = 0.5, f[2] = 1.0 - 1e-7, f[3] = 1e-5, f[4] = 0.25;
  Tensor frac = test::tensor(f, {10, 20}, DType::F64);
  for (auto nm : {std::pair<int64_t, int64_t>{0, 1}, {-1, 1}, {-2, 3}, {0, 2}}) {
    INFO("candidates ", nm.first, "..", nm.second);
    Tensor v = asoftmax_init_logits(frac, nm.first, nm.second);
    CHECK(v.sizes() == Shape{nm.second - nm.first + 1, 10, 20});
    // r at tau = 1 on a zero floor with s = 1 and a wide grid is sum_k k softmax_k(V)
    Tensor r = asoftmax_soft_weight(Tensor::zeros({10, 20}, DType::F64), v, nm.first, 1.0,
                                    test::tensor({1}, {1}), Tensor(), -100, 100);
    std::vector<double> rv = r.to_vector<double>();
    for (size_t i = 0; i < f.size(); ++i) {
      CHECK(std::fabs(rv[i] - f[i]) <= 1e-3);
      if (f[i] > 0.01 && f[i] < 0.99) CHECK(std::fabs(rv[i] - f[i]) <= 1e-12);
    }
    // every candidate keeps a finite logit (probability floor)
    for (double lv : v.to_vector<double>()) CHECK(std::isfinite(lv));
  }
  // float: the soft weight at init equals the FP weight
  Tensor w = Tensor::uniform({8, 9}, rng, -1, 1);
  Tensor s = Tensor::full({8}, 0.07f);
  Tensor wf = Tensor::empty({8, 9}), fr = Tensor::empty({8, 9});
  for (int i = 0; i < 72; ++i) {
    const float q = w.data<float>()[i] / 0.07f;
    wf.data<float>()[i] = std::floor(q);
    fr.data<float>()[i] = q - std::floor(q);
  }
  Tensor y =
      asoftmax_soft_weight(wf, asoftmax_init_logits(fr, 0, 1), 0, 1.0, s, Tensor(), -128, 127);
  CHECK_CLOSE(y, w, 0, 1e-4 * 0.07 + 1e-6);
}

TEST_CASE("quant ops: amixup mixes and passes F64 gradient checks") {
  Tensor a = test::random({2, 3, 5}, 1), b = test::random({2, 3, 5}, 2);
  test::gradcheck([](const std::vector<Tensor>& in) { return amixup(in[0], in[1], 0.3); }, {a, b});
  Tensor y = amixup(a, b, 0.25);
  for (int i = 0; i < 30; ++i) {
    CHECK(y.data<double>()[i] ==
          doctest::Approx(0.25 * a.data<double>()[i] + 0.75 * b.data<double>()[i]));
  }
  CHECK(amixup(a, b, 0.0).same(b));
  CHECK(test::max_abs_diff(amixup(a, b, 1.0), a) == 0);
  // fp does not require grad: only q gets one
  Tensor fp = test::random({4}, 3, -1, 1, false), q = test::random({4}, 4, -1, 1, true);
  backward(amixup(fp, q, 0.4), test::tensor({1, 2, 3, 4}, {4}));
  CHECK_CLOSE(q.grad(), test::tensor({0.6, 1.2, 1.8, 2.4}, {4}), 1e-15, 0);
  CHECK_FALSE(fp.grad().defined());
}

TEST_CASE("quant ops: qdrop frequency, gradient routing and determinism per seed") {
  const int64_t n = 200000;
  Tensor xq = Tensor::zeros({n}, DType::F64).set_requires_grad(true);
  Tensor xf = Tensor::ones({n}, DType::F64).set_requires_grad(true);
  for (double p : {0.1, 0.5, 0.9}) {
    INFO("p ", p);
    Rng rng(42);
    Tensor y = qdrop(xq, xf, p, rng);
    double taken = 0;
    for (double v : y.to_vector<double>()) taken += v;
    CHECK(std::fabs(taken / n - p) < 4 * std::sqrt(p * (1 - p) / n));
    // the mask is the documented function of one key drawn from the rng
    const QDropParams params{n, Rng(42).next_u64(), uint64_t(std::llround(std::ldexp(p, 32)))};
    for (int64_t i = 0; i < 1000; ++i)
      CHECK(y.data<double>()[i] == (qdrop_takes_fp(params, i) ? 1.0 : 0.0));
    // gradient to whichever was taken
    xq.zero_grad();
    xf.zero_grad();
    backward(y, Tensor::full({n}, 3.0, DType::F64));
    std::vector<double> gq = xq.grad().to_vector<double>(), gf = xf.grad().to_vector<double>();
    bool routed = true;
    for (int64_t i = 0; i < n; ++i)
      routed &= gf[i] == 3.0 * y.data<double>()[i] && gq[i] + gf[i] == 3.0;
    CHECK(routed);
  }
  Rng r1(7), r2(7), r3(8);
  Tensor a = qdrop(xq, xf, 0.5, r1), b = qdrop(xq, xf, 0.5, r2), c = qdrop(xq, xf, 0.5, r3);
  CHECK(test::max_abs_diff(a, b) == 0);
  CHECK(test::max_abs_diff(a, c) > 0);
  CHECK(test::max_abs_diff(qdrop(xq, xf, 0.5, r1), a) > 0);  // the rng advanced
  CHECK(qdrop(xq, xf, 0.0, r1).same(xq));
  CHECK(test::max_abs_diff(qdrop(xq, xf, 1.0, r1), xf) == 0);
}

TEST_CASE("quant ops: errors name the op and what was wrong") {
  Tensor x = test::random({2, 3}, 1, -1, 1, false), s = test::tensor({0.1}, {1});
  CHECK_THROWS_WITH_AS(fake_quant(x, test::tensor({0.0}, {1}), Tensor(), 0, 7),
                       doctest::Contains("fake_quant: scale must be positive"), Error);
  CHECK_THROWS_WITH_AS(fake_quant(x, test::tensor({0.1, -0.2, 0.3}, {3}), Tensor(), 0, 7, 1),
                       doctest::Contains("scale must be positive, got -0.2 at channel 1"), Error);
  CHECK_THROWS_WITH_AS(fake_quant(x, s, Tensor(), 7, 7),
                       doctest::Contains("qmin (7) must be below qmax (7)"), Error);
  CHECK_THROWS_WITH_AS(fake_quant(x, s, Tensor(), 0, 7, 1),
                       doctest::Contains("needs 3 element(s) (axis 1)"), Error);
  CHECK_THROWS_WITH_AS(fake_quant(x, s, test::tensor({0, 1}, {2}), 0, 7),
                       doctest::Contains("fake_quant: zero_point [2]"), Error);
  CHECK_THROWS_WITH_AS(fake_quant(x, s, test::tensor({0.5}, {1}), 0, 7),
                       doctest::Contains("zero_point must be integer-valued"), Error);
  CHECK_THROWS_WITH_AS(fake_quant(x, s, Tensor(), 0, 7, 2),
                       doctest::Contains("axis 2 out of range"), Error);
  CHECK_THROWS_WITH_AS(fake_quant(x, Tensor::full({1}, 0.1f), Tensor(), 0, 7),
                       doctest::Contains("fake_quant"), Error);
  Tensor wf = Tensor::zeros({3, 2}, DType::F64), v = test::random({3, 2}, 2, -1, 1, false);
  CHECK_THROWS_WITH_AS(adaround_soft_weight(wf, v, test::tensor({0.1, 0.1}, {2}), Tensor(), 0, 7),
                       doctest::Contains("must have 1 or 3 elements"), Error);
  CHECK_THROWS_WITH_AS(adaround_soft_weight(wf, v, test::tensor({-0.1}, {1}), Tensor(), 0, 7),
                       doctest::Contains("adaround_soft_weight: scale must be positive"), Error);
  CHECK_THROWS_WITH_AS(adaround_soft_weight(wf, v, s, Tensor(), 3, 1),
                       doctest::Contains("qmin (3)"), Error);
  CHECK_THROWS_WITH_AS(adaround_soft_weight(wf, test::random({2, 3}, 2), s, Tensor(), 0, 7),
                       doctest::Contains("must have w_floor's shape [3, 2]"), Error);
  CHECK_THROWS_WITH_AS(adaround_regularizer(v, 0.5), doctest::Contains("beta must be >= 1"), Error);
  CHECK_THROWS_WITH_AS(
      asoftmax_soft_weight(wf, test::random({2, 3, 3}, 2), 0, 1.0, s, Tensor(), 0, 7),
      doctest::Contains("must be [K, ...w_floor.shape]"), Error);
  CHECK_THROWS_WITH_AS(asoftmax_soft_weight(wf, test::random({3, 2}, 2), 0, 1.0, s, Tensor(), 0, 7),
                       doctest::Contains("asoftmax_soft_weight: v [3, 2]"), Error);
  CHECK_THROWS_WITH_AS(
      asoftmax_soft_weight(wf, test::random({2, 3, 2}, 2), 0, 0.0, s, Tensor(), 0, 7),
      doctest::Contains("tau must be positive"), Error);
  CHECK_THROWS_WITH_AS(asoftmax_init_logits(wf, 1, 2), doctest::Contains("must include 0 and 1"),
                       Error);
  CHECK_THROWS_WITH_AS(amixup(wf, v.view({2, 3}), 0.5),
                       doctest::Contains("amixup: fp [3, 2] and q [2, 3]"), Error);
  CHECK_THROWS_WITH_AS(amixup(wf, v, 1.5), doctest::Contains("fp_share must be in [0, 1]"), Error);
  Rng rng(1);
  CHECK_THROWS_WITH_AS(qdrop(wf, v, -0.1, rng), doctest::Contains("qdrop: p must be in [0, 1]"),
                       Error);
  CHECK_THROWS_WITH_AS(qdrop(wf, v.to(DType::F32), 0.5, rng), doctest::Contains("qdrop"), Error);
}

TEST_CASE("quant ops: a non-contiguous input is quantized and receives its gradients") {
  Tensor base = tie_values<double>({3, 4}, 0.25, 17);
  Tensor xt = base.permute({1, 0});  // a strided leaf [4, 3]
  xt.set_requires_grad(true);
  Tensor xc = xt.contiguous().clone().set_requires_grad(true);
  Tensor s = test::tensor({0.25, 0.5, 0.25}, {3});
  Tensor g = test::random({4, 3}, 4, -1, 1, false);
  Tensor yt = fake_quant(xt, s, Tensor(), -4, 3, 1), yc = fake_quant(xc, s, Tensor(), -4, 3, 1);
  CHECK(test::max_abs_diff(yt, yc) == 0);
  backward(yt, g);
  backward(yc, g);
  REQUIRE(xt.grad().defined());
  CHECK(test::max_abs_diff(xt.grad(), xc.grad()) == 0);
  Tensor vt = test::random({2, 3}, 5, -1, 1, false).permute({1, 0});
  vt.set_requires_grad(true);
  backward(adaround_soft_weight(Tensor::zeros({3, 2}, DType::F64), vt, s, Tensor(), 0, 7),
           test::random({3, 2}, 6, -1, 1, false));
  CHECK(vt.grad().defined());
}
