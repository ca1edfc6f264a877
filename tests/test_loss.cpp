// Losses: F64 gradient checks of log_softmax, cross_entropy (with and without label smoothing)
// and mse_loss, values against direct formulas, numerical stability at large logits, errors,
// top-1/top-k counting, and PyTorch goldens (tests/golden/loss.safetensors).
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/engine.h"
#include "core/tensor_io.h"
#include "ops/loss.h"
#include "tests/helpers.h"

using namespace nwq;

namespace {

Tensor labels(const std::vector<int64_t>& values) {
  return Tensor::from_vector(values, {static_cast<int64_t>(values.size())});
}

// cross entropy computed directly from the definition, in double on the host.
double reference_cross_entropy(const Tensor& logits, const std::vector<int64_t>& target,
                               double smoothing) {
  const int64_t n = logits.size(0), k = logits.size(1);
  std::vector<double> z = logits.to(DType::F64).to_vector<double>();
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    double lse = 0;
    for (int64_t j = 0; j < k; ++j) lse += std::exp(z[i * k + j]);
    lse = std::log(lse);
    double mean_nll = 0;
    for (int64_t j = 0; j < k; ++j) mean_nll += (lse - z[i * k + j]) / k;
    total += (1 - smoothing) * (lse - z[i * k + target[i]]) + smoothing * mean_nll;
  }
  return total / n;
}

}  // namespace

TEST_CASE("loss: log_softmax gradient check and rows that sum to one") {
  for (const Shape& shape : {Shape{4, 7}, Shape{2, 3, 5}, Shape{3, 1}}) {
    CAPTURE(shape_str(shape));
    Tensor x = test::random(shape, 1, -3, 3);
    test::gradcheck([](const std::vector<Tensor>& v) { return log_softmax(v[0]); }, {x});
    std::vector<double> y = log_softmax(x).to_vector<double>();
    const int64_t k = shape.back();
    for (size_t row = 0; row < y.size() / k; ++row) {
      double sum = 0;
      for (int64_t j = 0; j < k; ++j) sum += std::exp(y[row * k + j]);
      CHECK(sum == doctest::Approx(1.0).epsilon(1e-12));
    }
  }
}

TEST_CASE("loss: cross_entropy value and gradient check, with and without label smoothing") {
  const std::vector<int64_t> t{2, 0, 4, 4, 1};
  for (double smoothing : {0.0, 0.1, 1.0}) {
    CAPTURE(smoothing);
    Tensor logits = test::random({5, 6}, 2, -2, 2);
    Tensor loss = cross_entropy(logits, labels(t), smoothing);
    CHECK(loss.dim() == 0);
    CHECK(loss.item() == doctest::Approx(reference_cross_entropy(logits, t, smoothing)).epsilon(1e-12));
    test::gradcheck(
        [&](const std::vector<Tensor>& v) { return cross_entropy(v[0], labels(t), smoothing); },
        {logits});
  }
}

TEST_CASE("loss: mse_loss value and gradient check for either or both inputs") {
  for (int mask = 1; mask <= 3; ++mask) {
    CAPTURE(mask);
    Tensor a = test::random({3, 4, 2}, 3, -1, 1, mask & 1);
    Tensor b = test::random({3, 4, 2}, 4, -1, 1, mask & 2);
    test::gradcheck([](const std::vector<Tensor>& v) { return mse_loss(v[0], v[1]); }, {a, b});
    CHECK(a.grad().defined() == bool(mask & 1));
    CHECK(b.grad().defined() == bool(mask & 2));
  }
  // Several chunks (kMseChunk elements each), float32: compare with a double host sum.
  Tensor a = test::random({3, 5000}, 5, -2, 2, false), b = test::random({3, 5000}, 6, -2, 2, false);
  std::vector<double> av = a.to_vector<double>(), bv = b.to_vector<double>();
  double sum = 0;
  for (size_t i = 0; i < av.size(); ++i) sum += (av[i] - bv[i]) * (av[i] - bv[i]);
  CHECK(mse_loss(a, b).item() == doctest::Approx(sum / av.size()).epsilon(1e-12));
  Tensor a32 = a.to(DType::F32), b32 = b.to(DType::F32);
  CHECK(mse_loss(a32, b32).item() == doctest::Approx(sum / av.size()).epsilon(1e-6));
}

TEST_CASE("loss: logits of magnitude 1e4 give finite loss and gradients") {
  for (DType dtype : {DType::F32, DType::F64}) {
    CAPTURE(dtype_name(dtype));
    Tensor logits = test::tensor({1e4, -1e4, 0, -1e4, 1e4, 9999, 5e3, -5e3, 1e4}, {3, 3}, dtype)
                        .set_requires_grad(true);
    Tensor loss = cross_entropy(logits, labels({0, 2, 1}), 0.1);
    // Row 0: p = (1, 0, 0), nll 0. Row 1: target 9999 vs max 1e4, nll = log(1 + e^-1) + 1.
    // Row 2: target -5e3 vs max 1e4, nll 1.5e4. Smoothing adds 0.1 * mean_k nll.
    const double l = std::log(1 + std::exp(-1.0)), nll1 = l + 1;
    const double mean0 = (0 + 2e4 + 1e4) / 3, mean1 = ((2e4 + l) + l + (1 + l)) / 3;
    const double mean2 = (5e3 + 1.5e4 + 0) / 3;
    const double expected = (0.9 * (0 + nll1 + 1.5e4) + 0.1 * (mean0 + mean1 + mean2)) / 3;
    CHECK(loss.item() == doctest::Approx(expected).epsilon(1e-6));
    backward(loss);
    for (double g : logits.grad().to(DType::F64).to_vector<double>()) CHECK(std::isfinite(g));
    for (double v : log_softmax(logits).to(DType::F64).to_vector<double>()) CHECK(std::isfinite(v));
  }
}

TEST_CASE("loss: argument errors name the problem") {
  Tensor logits = test::random({6, 10}, 7);
  CHECK_THROWS_WITH_AS(cross_entropy(logits, test::tensor({1, 2, 3, 4, 5, 6}, {6})),
                       doctest::Contains("expected an int64 target, got float64[6]"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(logits, labels({0, 1, 10, 3, 4, 5})),
                       doctest::Contains("target 10 in row 2 is out of range [0, 10)"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(logits, labels({0, 1, 2, 3, -1, 5})),
                       doctest::Contains("target -1 in row 4"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(logits, labels({0, 1, 2})),
                       doctest::Contains("target [3] does not match logits [6, 10]"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(test::random({10}, 8), labels({0})),
                       doctest::Contains("expected logits of shape (N, K)"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(logits, labels({0, 1, 2, 3, 4, 5}), 1.5),
                       doctest::Contains("label_smoothing must be in [0, 1]"), Error);
  CHECK_THROWS_WITH_AS(mse_loss(test::random({3, 7}, 9), test::random({7, 3}, 10)),
                       doctest::Contains("mse_loss: shapes differ: [3, 7] vs [7, 3]"), Error);
  CHECK_THROWS_WITH_AS(mse_loss(test::random({3}, 9), test::random({3}, 10).to(DType::F32)),
                       doctest::Contains("mse_loss: inputs disagree"), Error);
  CHECK_THROWS_WITH_AS(count_correct(logits, labels({0, 1, 2, 3, 4, 50})),
                       doctest::Contains("count_correct: target 50 in row 5"), Error);
  CHECK_THROWS_WITH_AS(count_top_k(logits, labels({0, 1, 2, 3, 4, 5}), 11),
                       doctest::Contains("k = 11 must be in [1, 10]"), Error);
}

TEST_CASE("loss: count_correct and count_top_k, ties ranked by class index") {
  // Row 0: argmax 1. Row 1: tie between classes 0 and 2 -> first max (0). Row 2: target 3
  // is third largest. Row 3: all equal -> class 0 first.
  Tensor logits = test::tensor({0.1, 0.9, 0.3, 0.2,   //
                                5.0, 1.0, 5.0, 2.0,   //
                                4.0, 3.0, 1.0, 2.0,   //
                                1.0, 1.0, 1.0, 1.0},  //
                               {4, 4}, DType::F32);
  CHECK(count_correct(logits, labels({1, 0, 0, 0})) == 4);
  CHECK(count_correct(logits, labels({1, 2, 3, 1})) == 1);
  CHECK(count_top_k(logits, labels({1, 2, 3, 1}), 1) == 1);
  CHECK(count_top_k(logits, labels({1, 2, 3, 1}), 2) == 3);
  CHECK(count_top_k(logits, labels({1, 2, 3, 1}), 3) == 4);
  CHECK(count_top_k(logits, labels({3, 1, 2, 3}), 4) == 4);
}

TEST_CASE("loss: matches PyTorch goldens (log_softmax, cross_entropy with/without smoothing, mse)") {
  TensorFile golden = load_safetensors(test::golden_path("loss.safetensors"));
  const Tensor& target = golden.at("target");
  CHECK_CLOSE(log_softmax(golden.at("logits")), golden.at("log_softmax"), 1e-4, 1e-4);
  for (auto [prefix, smoothing] : {std::pair<std::string, double>{"ce", 0.0}, {"ce_ls", 0.1}}) {
    CAPTURE(prefix);
    Tensor logits = golden.at("logits").clone().set_requires_grad(true);
    Tensor loss = cross_entropy(logits, target, smoothing);
    CHECK_CLOSE(loss, golden.at(prefix + ".loss"), 1e-4, 1e-4);
    backward(loss);
    CHECK_CLOSE(logits.grad(), golden.at(prefix + ".glogits"), 1e-4, 1e-4);
  }
  Tensor a = golden.at("mse.a").clone().set_requires_grad(true);
  Tensor b = golden.at("mse.b").clone().set_requires_grad(true);
  Tensor loss = mse_loss(a, b);
  CHECK_CLOSE(loss, golden.at("mse.loss"), 1e-4, 1e-4);
  backward(loss);
  CHECK_CLOSE(a.grad(), golden.at("mse.ga"), 1e-4, 1e-4);
  CHECK_CLOSE(b.grad(), golden.at("mse.gb"), 1e-4, 1e-4);
}
