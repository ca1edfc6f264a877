// Reductions: sum/mean over all and over any dims against a naive reference, keepdim and
// negative dims, sum_to, determinism across thread counts, gradient checks, errors, goldens.
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>

#include "autograd/engine.h"
#include "core/tensor_io.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "tests/helpers.h"

using namespace nwq;

namespace {

// Sum of x over the dims flagged in `reduce`, keepdim shape, computed naively in double.
Tensor reference_sum(const Tensor& x, const std::vector<bool>& reduce) {
  Shape out = x.sizes();
  for (size_t d = 0; d < out.size(); ++d) if (reduce[d]) out[d] = 1;
  std::vector<double> xv = x.to(DType::F64).to_vector<double>();
  std::vector<double> y(static_cast<size_t>(shape_numel(out)), 0.0);
  for (size_t i = 0; i < xv.size(); ++i) {
    int64_t rest = static_cast<int64_t>(i), index = 0, stride = 1;
    for (size_t d = out.size(); d-- > 0;) {
      const int64_t coord = rest % x.sizes()[d];
      rest /= x.sizes()[d];
      if (!reduce[d]) index += coord * stride;
      stride *= out[d];
    }
    y[index] += xv[i];
  }
  return test::tensor(y, out);
}

using TensorFn = std::function<Tensor(const std::vector<Tensor>&)>;

}  // namespace

TEST_CASE("reduce: sum and mean of all elements give shape []") {
  Tensor x = test::tensor({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(sum(x).sizes() == Shape{});
  CHECK(sum(x).item() == 21);
  CHECK(mean(x).item() == 3.5);
  CHECK(sum(Tensor::scalar(2.5, DType::F64)).item() == 2.5);
  CHECK(sum(test::tensor({1, 2}, {2}, DType::F32)).dtype() == DType::F32);
}

TEST_CASE("reduce: sum/mean over dims match a naive reference, keepdim and negative dims") {
  struct Case {
    Shape shape;
    std::vector<int64_t> dims;
  };
  const std::vector<Case> cases = {
      {{2, 3, 4}, {1}},         {{2, 3, 4}, {-1}},         {{2, 3, 4}, {0}},
      {{2, 3, 4}, {0, 2}},      {{2, 3, 4, 5}, {0, 2, 3}}, {{2, 3, 4, 5}, {-3, -1}},
      {{2, 1, 4}, {1}},         {{2, 1, 4}, {0, 1}},       {{5}, {0}},
      {{3, 4}, {}},             {{300, 500}, {0}},         {{7, 40000}, {1}},
      {{2, 300, 3, 70}, {1, 3}}, {{40000, 3}, {0}},
  };
  uint64_t seed = 1;
  for (DType dtype : {DType::F64, DType::F32}) {
    for (const Case& c : cases) {
      CAPTURE(shape_str(c.shape));
      CAPTURE(c.dims.size());
      Tensor x = test::random(c.shape, seed++, -1, 1, false).to(dtype);
      std::vector<bool> flags(c.shape.size(), false);
      int64_t count = 1;
      Shape dropped;
      for (int64_t d : c.dims) flags[d < 0 ? d + c.shape.size() : d] = true;
      for (size_t d = 0; d < flags.size(); ++d) {
        if (flags[d]) count *= c.shape[d];
        else dropped.push_back(c.shape[d]);
      }
      Tensor want = reference_sum(x, flags);
      const double tol = dtype == DType::F32 ? 1e-5 : 1e-12;
      CHECK_CLOSE(sum(x, c.dims, true), want, tol, tol);
      CHECK_CLOSE(sum(x, c.dims), want.view(dropped), tol, tol);
      CHECK_CLOSE(mean(x, c.dims, true), mul(want, 1.0 / count), tol, tol);
      CHECK(mean(x, c.dims).sizes() == dropped);
    }
  }
}

TEST_CASE("reduce: float32 sums accumulate in double and do not depend on the thread count") {
  Tensor ones = Tensor::full({1 << 21}, 0.1, DType::F32);
  CHECK(std::fabs(sum(ones).item() - 0.1f * double(1 << 21)) < 1e-2);
  Tensor x = test::random({3, 200000}, 11, -1, 1, false).to(DType::F32);
  Tensor y = test::random({200000, 3}, 12, -1, 1, false).to(DType::F32);
  const int threads = omp_get_max_threads();
  std::vector<std::vector<float>> results;
  for (int t : {1, 2, 3}) {
    omp_set_num_threads(t);
    results.push_back(sum(x).to_vector<float>());
    std::vector<float> rows = sum(x, {1}).to_vector<float>();
    std::vector<float> cols = sum(y, {0}).to_vector<float>();
    results.back().insert(results.back().end(), rows.begin(), rows.end());
    results.back().insert(results.back().end(), cols.begin(), cols.end());
  }
  omp_set_num_threads(threads);
  CHECK(results[0] == results[1]);
  CHECK(results[0] == results[2]);
}

TEST_CASE("reduce: gradient check of sum and mean") {
  const std::vector<std::pair<const char*, TensorFn>> fns = {
      {"sum", [](const std::vector<Tensor>& in) { return sum(in[0]); }},
      {"mean", [](const std::vector<Tensor>& in) { return mean(in[0]); }},
      {"sum1", [](const std::vector<Tensor>& in) { return sum(in[0], {1}); }},
      {"sum02k", [](const std::vector<Tensor>& in) { return sum(in[0], {0, 2}, true); }},
      {"mean-1", [](const std::vector<Tensor>& in) { return mean(in[0], {-1}); }},
      {"mean01k", [](const std::vector<Tensor>& in) { return mean(in[0], {0, 1}, true); }},
      {"sum_none", [](const std::vector<Tensor>& in) { return sum(in[0], {}); }},
      {"sum_to", [](const std::vector<Tensor>& in) { return sum_to(in[0], {3, 1}); }},
  };
  for (const auto& [name, f] : fns) {
    CAPTURE(name);
    test::gradcheck(f, {test::random({2, 3, 4}, 3)});
  }
}

TEST_CASE("reduce: sum_to reduces broadcast dims back") {
  Tensor g = test::random({2, 3, 4}, 1, -1, 1, false);
  CHECK_CLOSE(sum_to(g, {3, 1}), sum(sum(g, {0}), {1}, true), 1e-12, 1e-12);
  CHECK_CLOSE(sum_to(g, {1, 3, 1}), sum(g, {0, 2}, true), 1e-12, 1e-12);
  CHECK_CLOSE(sum_to(g, {4}), sum(g, {0, 1}), 1e-12, 1e-12);
  CHECK_CLOSE(sum_to(g, {}), sum(g), 1e-12, 1e-12);
  CHECK(sum_to(g, {2, 3, 4}).same(g));
  Tensor nchw = test::random({2, 3, 5, 5}, 2, -1, 1, false);
  CHECK_CLOSE(sum_to(nchw, {1, 3, 1, 1}), sum(nchw, {0, 2, 3}, true), 1e-12, 1e-12);
  CHECK_THROWS_WITH_AS(sum_to(g, {2, 4}), doctest::Contains("sum_to: shapes [2, 4] and [2, 3, 4]"),
                       Error);
  CHECK_THROWS_WITH_AS(sum_to(g, {1, 2, 3, 4}),
                       "sum_to: [2, 3, 4] cannot be reduced to [1, 2, 3, 4]", Error);
  CHECK_THROWS_WITH_AS(sum_to(sum(g, {0}, true), {2, 3, 4}),
                       "sum_to: [1, 3, 4] cannot be reduced to [2, 3, 4]", Error);
}

TEST_CASE("reduce: empty tensors and size-1 dims") {
  Tensor e = Tensor::zeros({0, 3}, DType::F64);
  CHECK(sum(e).item() == 0);
  CHECK(std::isnan(mean(e).item()));
  CHECK(sum(e, {0}).to_vector<double>() == std::vector<double>{0, 0, 0});
  CHECK(sum(e, {1}).sizes() == Shape{0});
  Tensor one = test::tensor({1, 2, 3}, {1, 3, 1});
  CHECK(mean(one, {0, 2}).to_vector<double>() == std::vector<double>{1, 2, 3});
  CHECK(sum(one, {}).sizes() == Shape{1, 3, 1});
}

TEST_CASE("reduce: errors name the op, the dim and the tensor") {
  Tensor x = test::random({2, 3}, 1, -1, 1, false);
  CHECK_THROWS_WITH_AS(sum(x, {2}), "sum: dim 2 out of range for float64[2, 3] on cpu", Error);
  CHECK_THROWS_WITH_AS(mean(x, {-3}), "mean: dim -3 out of range for float64[2, 3] on cpu", Error);
  CHECK_THROWS_WITH_AS(sum(x, {1, -1}), "sum: dim -1 repeated for float64[2, 3] on cpu", Error);
  CHECK_THROWS_WITH_AS(sum(x.to(DType::I64)), doctest::Contains("expected a float32 or float64"),
                       Error);
}

TEST_CASE("reduce: mse built from sub, square and mean matches PyTorch's mse_loss golden") {
  TensorFile golden = load_safetensors(test::golden_path("loss.safetensors"));
  Tensor a = golden.at("mse.a").clone().set_requires_grad(true);
  Tensor b = golden.at("mse.b").clone().set_requires_grad(true);
  Tensor loss = mean(square(sub(a, b)));
  CHECK_CLOSE(loss, golden.at("mse.loss"), 1e-5, 1e-6);
  backward(loss);
  CHECK_CLOSE(a.grad(), golden.at("mse.ga"), 1e-5, 1e-6);
  CHECK_CLOSE(b.grad(), golden.at("mse.gb"), 1e-5, 1e-6);
}
