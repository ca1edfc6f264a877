// Elementwise ops: broadcasting values against a naive reference, F64 gradient checks of every
// op, scalar overloads and operators, where/greater/dropout, and error messages.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/engine.h"
#include "core/rng.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "tests/helpers.h"

using namespace nwq;

namespace {

// Flat index into `in` of output element `flat` when `in` is broadcast to `out`.
int64_t source_index(int64_t flat, const Shape& out, const Shape& in) {
  int64_t index = 0, stride = 1;
  int j = static_cast<int>(in.size()) - 1;
  for (int d = static_cast<int>(out.size()) - 1; d >= 0; --d, --j) {
    const int64_t coord = flat % out[d];
    flat /= out[d];
    if (j < 0) continue;
    if (in[j] != 1) index += coord * stride;
    stride *= in[j];
  }
  return index;
}

// y = f(a, b) with broadcasting, computed element by element in double.
Tensor reference(const Tensor& a, const Tensor& b, double (*f)(double, double)) {
  const Shape out = broadcast_shape("reference", a.sizes(), b.sizes());
  std::vector<double> av = a.to(DType::F64).to_vector<double>();
  std::vector<double> bv = b.to(DType::F64).to_vector<double>();
  std::vector<double> y(static_cast<size_t>(shape_numel(out)));
  for (size_t i = 0; i < y.size(); ++i) {
    const int64_t flat = static_cast<int64_t>(i);
    y[i] = f(av[source_index(flat, out, a.sizes())], bv[source_index(flat, out, b.sizes())]);
  }
  return test::tensor(y, out);
}

double ref_add(double u, double v) { return u + v; }
double ref_sub(double u, double v) { return u - v; }
double ref_mul(double u, double v) { return u * v; }
double ref_div(double u, double v) { return u / v; }

using TensorFn = std::function<Tensor(const std::vector<Tensor>&)>;

}  // namespace

TEST_CASE("elementwise: broadcast shapes follow numpy rules") {
  CHECK(broadcast_shape("t", {2, 3, 4}, {3, 1}) == Shape{2, 3, 4});
  CHECK(broadcast_shape("t", {5, 1, 7}, {1, 6, 1}) == Shape{5, 6, 7});
  CHECK(broadcast_shape("t", {}, {2, 3}) == Shape{2, 3});
  CHECK(broadcast_shape("t", {0, 3}, {1, 3}) == Shape{0, 3});
  CHECK_THROWS_WITH_AS(broadcast_shape("add", {2, 3}, {4}),
                       "add: shapes [2, 3] and [4] cannot be broadcast together", Error);
}

TEST_CASE("elementwise: binary ops with broadcasting match a naive reference (F64 and F32)") {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{2, 3, 4}, {3, 1}},       {{2, 3, 4, 5}, {1, 3, 1, 1}}, {{2, 3}, {}},
      {{}, {2, 3}},              {{3}, {2, 1}},                {{4, 1, 3}, {1, 5, 1}},
      {{2, 3, 4}, {2, 3, 4}},    {{1}, {1}},                   {{2, 1, 3, 1, 2}, {3, 1, 2}},
      {{70000}, {}},             {{600, 130}, {130}},          {{3, 40000}, {3, 1}},
  };
  for (DType dtype : {DType::F64, DType::F32}) {
    uint64_t seed = 1;
    for (const auto& [sa, sb] : cases) {
      CAPTURE(shape_str(sa));
      CAPTURE(shape_str(sb));
      Tensor a = test::random(sa, seed++, -2, 2, false).to(dtype);
      Tensor b = test::random(sb, seed++, 0.5, 2, false).to(dtype);
      CHECK_CLOSE(add(a, b), reference(a, b, ref_add), 1e-6, 1e-6);
      CHECK_CLOSE(sub(a, b), reference(a, b, ref_sub), 1e-6, 1e-6);
      CHECK_CLOSE(mul(a, b), reference(a, b, ref_mul), 1e-6, 1e-6);
      CHECK_CLOSE(div(a, b), reference(a, b, ref_div), 1e-6, 1e-6);
      CHECK(add(a, b).dtype() == dtype);
    }
  }
}

TEST_CASE("elementwise: large same-shape F32 add/mul (the threaded fast path) are exact") {
  const int64_t n = (1 << 18) + 3;
  Tensor a = test::random({n}, 7, -1, 1, false).to(DType::F32);
  Tensor b = test::random({n}, 8, -1, 1, false).to(DType::F32);
  std::vector<float> av = a.to_vector<float>(), bv = b.to_vector<float>();
  std::vector<float> sum_v = add(a, b).to_vector<float>(), prod_v = mul(a, b).to_vector<float>();
  int64_t wrong = 0;
  for (int64_t i = 0; i < n; ++i) wrong += sum_v[i] != av[i] + bv[i] || prod_v[i] != av[i] * bv[i];
  CHECK(wrong == 0);
}

TEST_CASE("elementwise: non-contiguous inputs are read through their strides") {
  Tensor a = test::random({3, 4}, 3, -1, 1, false);
  Tensor at = a.permute({1, 0});  // [4, 3], not contiguous
  Tensor b = test::random({4, 3}, 4, -1, 1, false);
  CHECK_CLOSE(add(at, b), reference(at.contiguous(), b, ref_add), 1e-12, 1e-12);
  CHECK_CLOSE(exp(at), exp(at.contiguous()), 1e-12, 1e-12);
}

TEST_CASE("elementwise: gradient check of add/sub/mul/div with broadcasting") {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{2, 3, 4}, {3, 1}}, {{2, 3, 2, 2}, {1, 3, 1, 1}}, {{}, {2, 3}}, {{3}, {2, 1}}, {{2, 3}, {2, 3}}};
  const std::vector<TensorFn> fns = {
      [](const std::vector<Tensor>& in) { return add(in[0], in[1]); },
      [](const std::vector<Tensor>& in) { return sub(in[0], in[1]); },
      [](const std::vector<Tensor>& in) { return mul(in[0], in[1]); },
      [](const std::vector<Tensor>& in) { return div(in[0], in[1]); },
  };
  uint64_t seed = 10;
  for (const auto& [sa, sb] : cases) {
    CAPTURE(shape_str(sa));
    CAPTURE(shape_str(sb));
    for (const TensorFn& f : fns) {
      Tensor a = test::random(sa, seed++, -1, 1);
      Tensor b = test::random(sb, seed++, 0.5, 1.5);  // away from 0 for div
      test::gradcheck(f, {a, b});
    }
  }
}

TEST_CASE("elementwise: only the needed gradients are computed; x*x accumulates both uses") {
  Tensor a = test::random({2, 3}, 1, -1, 1);
  Tensor b = test::random({3}, 2, -1, 1, false);
  backward(sum(mul(a, b)));
  CHECK(a.grad().defined());
  CHECK_FALSE(b.grad().defined());
  CHECK_CLOSE(a.grad(), broadcast_to(b, {2, 3}), 1e-12, 1e-12);

  Tensor x = test::tensor({1, -2, 3}, {3}).set_requires_grad(true);
  backward(sum(mul(x, x)));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2, -4, 6});
}

TEST_CASE("elementwise: scalar overloads and operators") {
  Tensor x = test::tensor({1, -2, 4}, {3});
  Tensor y = test::tensor({2, 4, -1}, {3});
  auto v = [](const Tensor& t) { return t.to_vector<double>(); };
  CHECK(v(add(x, 1.5)) == std::vector<double>{2.5, -0.5, 5.5});
  CHECK(v(sub(x, 1.0)) == std::vector<double>{0, -3, 3});
  CHECK(v(mul(x, -2.0)) == std::vector<double>{-2, 4, -8});
  CHECK(v(div(x, 4.0)) == std::vector<double>{0.25, -0.5, 1});
  CHECK(v(rsub(1.0, x)) == std::vector<double>{0, 3, -3});
  CHECK(v(rdiv(4.0, x)) == std::vector<double>{4, -2, 1});
  CHECK(v(x + y) == std::vector<double>{3, 2, 3});
  CHECK(v(x - y) == std::vector<double>{-1, -6, 5});
  CHECK(v(x * y) == std::vector<double>{2, -8, -4});
  CHECK(v(x / y) == std::vector<double>{0.5, -0.5, -4});
  CHECK(v(-x) == std::vector<double>{-1, 2, -4});
  CHECK(v(x + 1.0) == v(1.0 + x));
  CHECK(v(x * 3.0) == v(3.0 * x));
  CHECK(v(x - 1.0) == std::vector<double>{0, -3, 3});
  CHECK(v(1.0 - x) == std::vector<double>{0, 3, -3});
  CHECK(v(x / 2.0) == std::vector<double>{0.5, -1, 2});
  CHECK(v(2.0 / x) == std::vector<double>{2, -1, 0.5});
  // F32 scalar division is a true division, as in PyTorch's CPU kernel.
  Tensor f = test::tensor({1, 7, 10}, {3}, DType::F32);
  CHECK(div(f, 3.0).to_vector<float>() == std::vector<float>{1.0f / 3.0f, 7.0f / 3.0f, 10.0f / 3.0f});
}

TEST_CASE("elementwise: gradient check of the scalar overloads") {
  const std::vector<TensorFn> fns = {
      [](const std::vector<Tensor>& in) { return add(in[0], 0.7); },
      [](const std::vector<Tensor>& in) { return sub(in[0], 0.7); },
      [](const std::vector<Tensor>& in) { return mul(in[0], -1.3); },
      [](const std::vector<Tensor>& in) { return div(in[0], 2.5); },
      [](const std::vector<Tensor>& in) { return rsub(2.0, in[0]); },
      [](const std::vector<Tensor>& in) { return rdiv(1.5, in[0]); },
      [](const std::vector<Tensor>& in) { return 2.0 * in[0] - in[0] / 3.0 + 1.0; },
  };
  for (const TensorFn& f : fns) test::gradcheck(f, {test::random({2, 3}, 5, 0.5, 2)});
}

TEST_CASE("elementwise: unary forward values match <cmath>") {
  std::vector<double> xs = {-2.5, -0.3, 0.2, 1.7, 4.0};
  Tensor x = test::tensor(xs, {5});
  Tensor pos = test::tensor({0.1, 0.5, 1.0, 2.0, 9.0}, {5});
  auto check = [](const Tensor& y, const std::vector<double>& in, double (*f)(double)) {
    std::vector<double> want;
    for (double v : in) want.push_back(f(v));
    CHECK_CLOSE(y, test::tensor(want, {static_cast<int64_t>(in.size())}), 1e-14, 1e-14);
  };
  check(neg(x), xs, [](double v) { return -v; });
  check(square(x), xs, [](double v) { return v * v; });
  check(exp(x), xs, [](double v) { return std::exp(v); });
  check(sigmoid(x), xs, [](double v) { return 1 / (1 + std::exp(-v)); });
  check(abs(x), xs, [](double v) { return std::fabs(v); });
  check(clamp(x, -1, 2), xs, [](double v) { return std::min(std::max(v, -1.0), 2.0); });
  check(pow(x, 3), xs, [](double v) { return v * v * v; });
  std::vector<double> ps = pos.to_vector<double>();
  check(log(pos), ps, [](double v) { return std::log(v); });
  check(sqrt(pos), ps, [](double v) { return std::sqrt(v); });
  check(pow(pos, 0.5), ps, [](double v) { return std::sqrt(v); });
  CHECK(sigmoid(test::tensor({-1000, 1000}, {2}, DType::F32)).to_vector<float>() ==
        std::vector<float>{0.0f, 1.0f});
  CHECK(std::isnan(clamp(test::tensor({NAN}, {1}), 0, 1).item()));
}

TEST_CASE("elementwise: gradient check of every unary op away from kinks") {
  // x avoids 0 (abs), the clamp bounds -0.5 and 0.8, and log/sqrt/fractional pow get x > 0.
  Tensor x = test::tensor({-1.3, -0.7, -0.2, 0.3, 0.6, 1.1, 1.9, -2.4}, {2, 4}).set_requires_grad(true);
  Tensor pos = test::random({2, 4}, 9, 0.3, 2.0);
  const std::vector<std::pair<const char*, TensorFn>> on_x = {
      {"neg", [](const std::vector<Tensor>& in) { return neg(in[0]); }},
      {"square", [](const std::vector<Tensor>& in) { return square(in[0]); }},
      {"exp", [](const std::vector<Tensor>& in) { return exp(in[0]); }},
      {"sigmoid", [](const std::vector<Tensor>& in) { return sigmoid(in[0]); }},
      {"clamp", [](const std::vector<Tensor>& in) { return clamp(in[0], -0.5, 0.8); }},
      {"abs", [](const std::vector<Tensor>& in) { return abs(in[0]); }},
      {"pow3", [](const std::vector<Tensor>& in) { return pow(in[0], 3.0); }},
      {"pow0", [](const std::vector<Tensor>& in) { return pow(in[0], 0.0); }},
  };
  for (const auto& [name, f] : on_x) {
    CAPTURE(name);
    test::gradcheck(f, {x});
  }
  const std::vector<std::pair<const char*, TensorFn>> on_pos = {
      {"log", [](const std::vector<Tensor>& in) { return log(in[0]); }},
      {"sqrt", [](const std::vector<Tensor>& in) { return sqrt(in[0]); }},
      {"pow", [](const std::vector<Tensor>& in) { return pow(in[0], -1.7); }},
      {"pow_half", [](const std::vector<Tensor>& in) { return pow(in[0], 0.5); }},
  };
  for (const auto& [name, f] : on_pos) {
    CAPTURE(name);
    test::gradcheck(f, {pos});
  }
}

TEST_CASE("elementwise: clamp passes the gradient strictly inside (lo, hi); abs has 0 at 0") {
  Tensor x = test::tensor({-2, -1, 0, 1, 2}, {5}).set_requires_grad(true);
  backward(clamp(x, -1, 1), test::tensor({1, 1, 1, 1, 1}, {5}));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0, 0, 1, 0, 0});
  x.zero_grad();
  backward(abs(x), test::tensor({1, 1, 1, 1, 1}, {5}));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{-1, -1, 0, 1, 1});
  CHECK_THROWS_WITH_AS(clamp(x, 1, -1), doctest::Contains("clamp: lo 1 > hi -1"), Error);
}

TEST_CASE("elementwise: where and greater") {
  Tensor a = test::tensor({1, 2, 3, 4}, {2, 2}).set_requires_grad(true);
  Tensor b = test::tensor({10, 20, 30, 40}, {2, 2}).set_requires_grad(true);
  Tensor mask = greater(test::tensor({0.5, -1, 2, 0}, {2, 2}), 0.25);
  CHECK(mask.dtype() == DType::U8);
  CHECK_FALSE(mask.requires_grad());
  CHECK(mask.to_vector<uint8_t>() == std::vector<uint8_t>{1, 0, 1, 0});
  Tensor y = where(mask, a, b);
  CHECK(y.to_vector<double>() == std::vector<double>{1, 20, 3, 40});
  backward(y, test::tensor({1, 2, 3, 4}, {2, 2}));
  CHECK(a.grad().to_vector<double>() == std::vector<double>{1, 0, 3, 0});
  CHECK(b.grad().to_vector<double>() == std::vector<double>{0, 2, 0, 4});
  test::gradcheck([&](const std::vector<Tensor>& in) { return where(mask, in[0], in[1]); },
                  {test::random({2, 2}, 1), test::random({2, 2}, 2)});
  // Only b needs a gradient: a gets none.
  Tensor c = test::tensor({1, 2, 3, 4}, {2, 2});
  Tensor d = test::tensor({5, 6, 7, 8}, {2, 2}).set_requires_grad(true);
  backward(sum(where(mask, c, d)));
  CHECK(d.grad().to_vector<double>() == std::vector<double>{0, 1, 0, 1});
  // greater compares in the tensor's dtype (0.1 rounds to float first, as in PyTorch).
  CHECK(greater(test::tensor({0.1}, {1}, DType::F32), 0.1).to_vector<uint8_t>()[0] == 0);
}

TEST_CASE("elementwise: where errors name the op and the shapes") {
  Tensor a = test::random({2, 2}, 1, -1, 1, false);
  Tensor mask = greater(a, 0);
  CHECK_THROWS_WITH_AS(where(a, a, a), doctest::Contains("where: mask must be a uint8 tensor"),
                       Error);
  CHECK_THROWS_WITH_AS(where(mask, a, test::random({2, 3}, 2, -1, 1, false)),
                       "where: shapes differ: mask [2, 2], a [2, 2], b [2, 3]", Error);
  CHECK_THROWS_WITH_AS(where(mask, a, a.to(DType::F32)), doctest::Contains("where: inputs disagree"),
                       Error);
}

TEST_CASE("elementwise: dropout is inverted, deterministic and an identity when off") {
  Tensor x = test::random({64, 64}, 3, 1, 2);
  Rng rng(42);
  CHECK(dropout(x, 0.3, false, rng).same(x));
  CHECK(dropout(x, 0.0, true, rng).same(x));
  Rng r1(7), r2(7);
  Tensor y1 = dropout(x, 0.25, true, r1), y2 = dropout(x, 0.25, true, r2);
  CHECK(y1.to_vector<double>() == y2.to_vector<double>());
  std::vector<double> xv = x.to_vector<double>(), yv = y1.to_vector<double>();
  int64_t kept = 0;
  for (size_t i = 0; i < xv.size(); ++i) {
    if (yv[i] != 0) {
      ++kept;
      CHECK(std::fabs(yv[i] - xv[i] / 0.75) < 1e-12);
    }
  }
  CHECK(std::fabs(kept / 4096.0 - 0.75) < 0.03);
  // The gradient is the same mask: zero where dropped, 1/(1-p) where kept.
  backward(sum(y1));
  std::vector<double> gv = x.grad().to_vector<double>();
  for (size_t i = 0; i < gv.size(); ++i) CHECK(gv[i] == (yv[i] != 0 ? 1 / 0.75 : 0.0));
  CHECK(dropout(x, 1.0, true, rng).to_vector<double>() == std::vector<double>(4096, 0.0));
  CHECK_THROWS_WITH_AS(dropout(x, 1.5, true, rng), doctest::Contains("dropout: p must be in [0, 1]"),
                       Error);
}

TEST_CASE("elementwise: broadcast_to copies and sums its gradient back") {
  Tensor x = test::tensor({1, 2, 3}, {3, 1});
  CHECK(broadcast_to(x, {2, 3, 2}).to_vector<double>() ==
        std::vector<double>{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3});
  test::gradcheck([](const std::vector<Tensor>& in) { return broadcast_to(in[0], {2, 3, 4}); },
                  {test::random({3, 1}, 1)});
  CHECK_THROWS_WITH_AS(broadcast_to(x, {3, 2, 2}), doctest::Contains("broadcast_to"), Error);
  CHECK_THROWS_WITH_AS(broadcast_to(x, {3}), "broadcast_to: shape [3, 1] cannot be broadcast to [3]",
                       Error);
}

TEST_CASE("elementwise: errors name the op and the shapes") {
  Tensor a = test::random({2, 3}, 1, -1, 1, false);
  CHECK_THROWS_WITH_AS(add(a, test::random({4}, 2, -1, 1, false)),
                       "add: shapes [2, 3] and [4] cannot be broadcast together", Error);
  CHECK_THROWS_WITH_AS(div(a, test::random({3, 3}, 2, -1, 1, false)),
                       doctest::Contains("div: shapes [2, 3] and [3, 3]"), Error);
  CHECK_THROWS_WITH_AS(mul(a, a.to(DType::F32)),
                       "mul: inputs disagree: float64[2, 3] on cpu vs float32[2, 3] on cpu", Error);
  CHECK_THROWS_WITH_AS(sub(a.to(DType::I64), a.to(DType::I64)),
                       doctest::Contains("sub: expected a float32 or float64 tensor, got int64"),
                       Error);
  CHECK_THROWS_WITH_AS(exp(a.to(DType::U8)), doctest::Contains("exp: expected a float32"), Error);
  CHECK_THROWS_WITH_AS(greater(a.to(DType::I32), 0), doctest::Contains("greater: expected"), Error);
  // Dims that cannot be merged (broadcast alternates): more than kMaxBroadcastDims.
  Tensor p = test::random({2, 1, 2, 1, 2, 1, 2}, 3, -1, 1, false);
  Tensor q = test::random({1, 2, 1, 2, 1, 2, 1}, 4, -1, 1, false);
  CHECK_THROWS_WITH_AS(add(p, q), doctest::Contains("add: shapes [2, 1, 2, 1, 2, 1, 2] and "
                                                    "[1, 2, 1, 2, 1, 2, 1] need more than 6 dims"),
                       Error);
  // High ranks are fine when the dims merge.
  Tensor r = test::random({2, 1, 1, 1, 1, 1, 1, 3}, 5, -1, 1, false);
  CHECK(add(r, r).sizes() == r.sizes());
}

TEST_CASE("elementwise: empty tensors") {
  Tensor e = Tensor::zeros({0, 3}, DType::F64);
  CHECK(add(e, test::tensor({1, 2, 3}, {3})).sizes() == Shape{0, 3});
  CHECK(exp(e).sizes() == Shape{0, 3});
}
