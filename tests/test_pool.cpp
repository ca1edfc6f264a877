// Pooling: output-size rules (ceil_mode's last-window rule), count_include_pad, adaptive bins,
// F64 gradient checks on tie-free inputs, PyTorch goldens, and errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "core/tensor_io.h"
#include "ops/pool.h"
#include "tests/helpers.h"

using namespace nwq;

namespace {

Pool2dParams pool(int kh, int kw, int sh, int sw, int ph = 0, int pw = 0, bool ceil = false,
                  bool include_pad = true) {
  Pool2dParams p;
  p.kernel_h = kh, p.kernel_w = kw, p.stride_h = sh, p.stride_w = sw, p.pad_h = ph, p.pad_w = pw;
  p.ceil_mode = ceil, p.count_include_pad = include_pad;
  return p;
}

// A tie-free F64 tensor requiring grad: a random permutation of 0.1 * k, k = 0, 1, ...
Tensor distinct(const Shape& shape, uint64_t seed) {
  std::vector<double> r = test::random(shape, seed, 0, 1, false).to_vector<double>();
  std::vector<size_t> order(r.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return r[a] < r[b]; });
  std::vector<double> v(r.size());
  for (size_t k = 0; k < order.size(); ++k) v[order[k]] = 0.1 * double(k) - 1.0;
  return Tensor::from_vector(v, shape).set_requires_grad(true);
}

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

}  // namespace

TEST_CASE("pool: output sizes follow PyTorch, including ceil_mode's last-window rule") {
  Tensor x = test::random({1, 1, 5, 6}, 1, -1, 1, false);
  CHECK(max_pool2d(x, pool(3, 3, 3, 3, 1, 1)).sizes() == Shape{1, 1, 2, 2});
  // ceil: 5 rows round up to 3 windows, but the third would start in the bottom padding (row 5),
  // so it is dropped; 6 columns keep their third window (it starts at column 5, inside).
  CHECK(max_pool2d(x, pool(3, 3, 3, 3, 1, 1, true)).sizes() == Shape{1, 1, 2, 3});
  CHECK(max_pool2d(x, pool(2, 2, 2, 2, 0, 0, true)).sizes() == Shape{1, 1, 3, 3});
  CHECK(avg_pool2d(x, pool(2, 2, 2, 2)).sizes() == Shape{1, 1, 2, 3});
  CHECK(avg_pool2d(x, pool(3, 3, 2, 2, 1, 1, true)).sizes() == Shape{1, 1, 3, 4});
  CHECK(adaptive_avg_pool2d(x, 3, 4).sizes() == Shape{1, 1, 3, 4});
  CHECK(global_avg_pool2d(x).sizes() == Shape{1, 1, 1, 1});
}

TEST_CASE("pool: divisors with padding, count_include_pad and a ceil_mode window past the padding") {
  Tensor x = test::tensor({1, 2, 3, 4, 5, 6}, {1, 1, 1, 6});
  // Windows start at columns -1, 1, 3, 5; the last covers column 5, padding 6 and (outside) 7.
  CHECK(values(avg_pool2d(x, pool(1, 3, 1, 2, 0, 1, true))) == std::vector<double>{1, 3, 5, 3});
  CHECK(values(avg_pool2d(x, pool(1, 3, 1, 2, 0, 1, true, false))) ==
        std::vector<double>{1.5, 3, 5, 6});
  CHECK(values(max_pool2d(x, pool(1, 3, 1, 2, 0, 1, true))) == std::vector<double>{2, 4, 6, 6});
  CHECK(values(max_pool2d(test::tensor({-3, -1, -2}, {1, 1, 1, 3}), pool(1, 3, 1, 1, 0, 1))) ==
        std::vector<double>{-1, -1, -1});  // padding is -inf, not 0
}

TEST_CASE("pool: adaptive bins overlap when the size does not divide") {
  Tensor x = test::tensor({1, 2, 3, 4, 5}, {1, 1, 1, 5});
  // Bins [0, 2), [1, 4), [3, 5).
  CHECK(values(adaptive_avg_pool2d(x, 1, 3)) == std::vector<double>{1.5, 3, 4.5});
  // The global pool's own kernel agrees with the mean of two equal adaptive bins.
  Tensor y = test::random({2, 3, 4, 5}, 2, -1, 1, false);
  std::vector<double> halves = values(adaptive_avg_pool2d(y, 2, 1)), global = values(global_avg_pool2d(y));
  for (size_t i = 0; i < global.size(); ++i) {
    CHECK(global[i] == doctest::Approx((halves[2 * i] + halves[2 * i + 1]) / 2).epsilon(1e-12));
  }
}

TEST_CASE("pool: gradient checks (tie-free inputs for max pooling)") {
  const std::vector<Pool2dParams> ps = {pool(2, 2, 2, 2),          pool(3, 3, 2, 2, 1, 1),
                                        pool(3, 2, 1, 2, 1, 0),    pool(2, 2, 2, 2, 0, 0, true),
                                        pool(3, 3, 2, 2, 1, 1, true), pool(3, 3, 2, 2, 1, 1, true, false)};
  uint64_t seed = 10;
  for (const Pool2dParams& p : ps) {
    CAPTURE(p.kernel_h);
    CAPTURE(p.pad_h);
    CAPTURE(p.ceil_mode);
    CAPTURE(p.count_include_pad);
    Tensor x = distinct({2, 2, 5, 6}, seed++);
    test::gradcheck([p](const std::vector<Tensor>& t) { return max_pool2d(t[0], p); }, {x});
    test::gradcheck([p](const std::vector<Tensor>& t) { return avg_pool2d(t[0], p); }, {x});
  }
  Tensor x = test::random({2, 3, 7, 5}, 20);
  test::gradcheck([](const std::vector<Tensor>& t) { return adaptive_avg_pool2d(t[0], 3, 2); }, {x});
  test::gradcheck([](const std::vector<Tensor>& t) { return adaptive_avg_pool2d(t[0], 7, 5); }, {x});
  test::gradcheck([](const std::vector<Tensor>& t) { return global_avg_pool2d(t[0]); }, {x});
}

TEST_CASE("pool: matches the PyTorch goldens (y and gx)") {
  TensorFile golden = load_safetensors(test::golden_path("pooling.safetensors"));
  struct Case {
    const char* prefix;
    bool max;
    Pool2dParams p;
  };
  // Parameters as in the file's __metadata__ (see tests/golden/README.md).
  const std::vector<Case> cases = {{"maxpool_k3s2p1", true, pool(3, 3, 2, 2, 1, 1)},
                                   {"maxpool_k2s2", true, pool(2, 2, 2, 2)},
                                   {"avgpool_k2s2", false, pool(2, 2, 2, 2)},
                                   {"avgpool_k3s1p1", false, pool(3, 3, 1, 1, 1, 1)}};
  auto check = [&](const std::string& k, Tensor x, Tensor y) {
    CAPTURE(k);
    CHECK_CLOSE(y, golden.at(k + ".y"), 1e-4, 1e-4);
    backward(y, golden.at(k + ".gy"));
    CHECK_CLOSE(x.grad(), golden.at(k + ".gx"), 1e-4, 1e-4);
  };
  for (const Case& c : cases) {
    Tensor x = golden.at(std::string(c.prefix) + ".x").clone().set_requires_grad(true);
    check(c.prefix, x, c.max ? max_pool2d(x, c.p) : avg_pool2d(x, c.p));
  }
  Tensor x = golden.at("gap.x").clone().set_requires_grad(true);
  check("gap", x, global_avg_pool2d(x));
  Tensor x2 = golden.at("gap.x").clone().set_requires_grad(true);
  check("gap", x2, adaptive_avg_pool2d(x2, 1, 1));
}

TEST_CASE("pool: errors name the op and the shapes") {
  Tensor x = test::random({2, 3, 5, 5}, 30, -1, 1, false);
  CHECK_THROWS_WITH_AS(max_pool2d(x.view({6, 5, 5}), pool(2, 2, 2, 2)),
                       doctest::Contains("max_pool2d: x must be 4-D [N, C, H, W], got [6, 5, 5]"), Error);
  CHECK_THROWS_WITH_AS(avg_pool2d(x, pool(7, 2, 1, 1)),
                       doctest::Contains("avg_pool2d: output size -1x4 is <= 0: kernel larger than the padded input (x [2, 3, 5, 5], kernel 7x2"), Error);
  CHECK_THROWS_WITH_AS(max_pool2d(x, pool(3, 3, 1, 1, 2, 0)),
                       doctest::Contains("max_pool2d: padding must be >= 0 and at most half the kernel"), Error);
  CHECK_THROWS_WITH_AS(max_pool2d(x, pool(3, 3, 0, 1)),
                       doctest::Contains("max_pool2d: kernel and stride must be >= 1"), Error);
  CHECK_THROWS_WITH_AS(avg_pool2d(x.to(DType::I32), pool(2, 2, 2, 2)),
                       doctest::Contains("avg_pool2d: expected a float32 or float64 tensor, got int32"), Error);
  CHECK_THROWS_WITH_AS(adaptive_avg_pool2d(x, 0, 2),
                       doctest::Contains("adaptive_avg_pool2d: output 0x2 and input [2, 3, 5, 5] must be non-empty"), Error);
}
