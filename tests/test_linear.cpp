// matmul and linear: forward against naive loops, F64 gradient checks of every input,
// needs-mask (frozen weights get no gradient) and shape/dtype errors.
#include <doctest/doctest.h>

#include <vector>

#include "autograd/engine.h"
#include "ops/linear.h"
#include "tests/helpers.h"

using namespace nwq;

namespace {

// a [M, K] x b^T or b: the readable definition, in double.
Tensor naive_matmul(const Tensor& a, const Tensor& b, bool b_transposed) {
  const int64_t M = a.size(0), K = a.size(1), N = b_transposed ? b.size(0) : b.size(1);
  std::vector<double> av = a.to_vector<double>(), bv = b.to_vector<double>(), y(M * N, 0.0);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j)
      for (int64_t k = 0; k < K; ++k)
        y[i * N + j] += av[i * K + k] * (b_transposed ? bv[j * K + k] : bv[k * N + j]);
  return Tensor::from_vector(y, {M, N});
}

}  // namespace

TEST_CASE("linear: matmul and linear forward match naive loops") {
  Tensor a = test::random({5, 7}, 1, -1, 1, false);
  Tensor b = test::random({7, 3}, 2, -1, 1, false);
  CHECK_CLOSE(matmul(a, b), naive_matmul(a, b, false), 1e-12, 1e-12);
  CHECK_CLOSE(matmul(a.to(DType::F32), b.to(DType::F32)), naive_matmul(a, b, false), 1e-5, 1e-5);
  Tensor w = test::random({4, 7}, 3, -1, 1, false);
  Tensor bias = test::tensor({0.5, -1, 2, 0.25}, {4});
  std::vector<double> expected = naive_matmul(a, w, true).to_vector<double>();
  for (size_t i = 0; i < expected.size(); ++i) expected[i] += bias.to_vector<double>()[i % 4];
  CHECK_CLOSE(linear(a, w, bias), Tensor::from_vector(expected, {5, 4}), 1e-12, 1e-12);
  CHECK_CLOSE(linear(a, w, Tensor()), naive_matmul(a, w, true), 1e-12, 1e-12);
}

TEST_CASE("linear: large products (split over threads by rows or by columns) match naive loops") {
  Tensor tall = test::random({300, 120}, 5, -1, 1, false), wide = test::random({120, 310}, 6, -1, 1, false);
  CHECK_CLOSE(matmul(tall, wide), naive_matmul(tall, wide, false), 1e-12, 1e-12);  // rows
  Tensor flat = test::random({20, 120}, 7, -1, 1, false), w = test::random({900, 120}, 8, -1, 1, false);
  CHECK_CLOSE(linear(flat, w, Tensor()), naive_matmul(flat, w, true), 1e-12, 1e-12);  // columns
  Tensor x = test::random({40, 900}, 9), w2 = test::random({300, 900}, 10);
  Tensor gy = test::random({40, 300}, 11, -1, 1, false);
  backward(linear(x, w2, Tensor()), gy);  // gx = gy w (rows), gw = gy^T x (columns, transposed a)
  CHECK_CLOSE(x.grad(), naive_matmul(gy, w2.detach(), false), 1e-12, 1e-12);
  std::vector<double> g = gy.to_vector<double>(), gt(12000);
  for (int i = 0; i < 40; ++i)
    for (int j = 0; j < 300; ++j) gt[j * 40 + i] = g[i * 300 + j];
  CHECK_CLOSE(w2.grad(), naive_matmul(Tensor::from_vector(gt, {300, 40}), x.detach(), false), 1e-12, 1e-12);
}

TEST_CASE("linear: gradient check of matmul and linear") {
  test::gradcheck([](const std::vector<Tensor>& t) { return matmul(t[0], t[1]); },
                  {test::random({3, 4}, 11), test::random({4, 5}, 12)});
  test::gradcheck([](const std::vector<Tensor>& t) { return linear(t[0], t[1], t[2]); },
                  {test::random({6, 4}, 13), test::random({3, 4}, 14), test::random({3}, 15)});
  test::gradcheck([](const std::vector<Tensor>& t) { return linear(t[0], t[1], Tensor()); },
                  {test::random({1, 5}, 16), test::random({2, 5}, 17)});
}

TEST_CASE("linear: frozen weights get no gradient; the input still does") {
  Tensor x = test::random({4, 3}, 21);
  Tensor w = test::random({2, 3}, 22, -1, 1, false);
  Tensor b = test::random({2}, 23);
  backward(linear(x, w, b), test::random({4, 2}, 24, -1, 1, false));
  CHECK(x.grad().defined());
  CHECK(b.grad().defined());
  CHECK_FALSE(w.grad().defined());
  Tensor a = test::random({2, 3}, 25, -1, 1, false);
  Tensor m = test::random({3, 2}, 26);
  backward(matmul(a, m), test::random({2, 2}, 27, -1, 1, false));
  CHECK(m.grad().defined());
}

TEST_CASE("linear: errors name the op and the shapes") {
  Tensor x = test::random({4, 3}, 31, -1, 1, false);
  Tensor w = test::random({2, 3}, 32, -1, 1, false);
  CHECK_THROWS_WITH_AS(matmul(x, x), doctest::Contains("matmul: inner sizes differ: a [4, 3] x b [4, 3]"), Error);
  CHECK_THROWS_WITH_AS(matmul(x.view({12}), x), doctest::Contains("matmul: a must be 2-D, got [12]"), Error);
  CHECK_THROWS_WITH_AS(linear(x.view({2, 2, 3}), w, Tensor()),
                       doctest::Contains("linear: x must be 2-D, got [2, 2, 3]"), Error);
  CHECK_THROWS_WITH_AS(linear(x, test::random({2, 4}, 33, -1, 1, false), Tensor()),
                       doctest::Contains("linear: x [4, 3] has 3 features but weight [2, 4] expects 4"), Error);
  CHECK_THROWS_WITH_AS(linear(x, w, test::random({3}, 34, -1, 1, false)),
                       doctest::Contains("linear: bias [3] must be [2] for weight [2, 3]"), Error);
  CHECK_THROWS_WITH_AS(linear(x.to(DType::F32), w, Tensor()),
                       doctest::Contains("linear: inputs disagree: float32[4, 3] on cpu vs float64[2, 3]"), Error);
}
