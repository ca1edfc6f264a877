// batch_norm: F64 gradient checks (train and eval, 4-D and 2-D, with and without weight
// gradients), the in-place running-stat update, float32 accuracy, argument errors and PyTorch
// goldens (tests/golden/batch_norm.safetensors).
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "core/tensor_io.h"
#include "ops/batch_norm.h"
#include "tests/helpers.h"

using namespace nwq;

namespace {

constexpr double kMomentum = 0.1, kEps = 1e-5;

struct BnInputs {
  Tensor x, weight, bias, running_mean, running_var;
};

// Random F64 inputs; weight, bias and x require grad as asked, running stats never.
BnInputs make_inputs(const Shape& shape, uint64_t seed, bool x_grad, bool wb_grad) {
  const int64_t c = shape[1];
  BnInputs in;
  in.x = test::random(shape, seed, -2, 3, x_grad);
  in.weight = test::random({c}, seed + 1, 0.5, 1.5, wb_grad);
  in.bias = test::random({c}, seed + 2, -0.5, 0.5, wb_grad);
  in.running_mean = test::random({c}, seed + 3, -0.3, 0.3, false);
  in.running_var = test::random({c}, seed + 4, 0.5, 1.5, false);
  return in;
}

Tensor run(const BnInputs& in, const std::vector<Tensor>& v, bool training) {
  return batch_norm(v[0], v[1], v[2], in.running_mean, in.running_var, training, kMomentum, kEps);
}

}  // namespace

TEST_CASE("batch_norm: gradient check, training mode, x/weight/bias, 4-D and 2-D") {
  for (const Shape& shape : {Shape{3, 4, 2, 3}, Shape{6, 5}}) {
    CAPTURE(shape_str(shape));
    BnInputs in = make_inputs(shape, 10, true, true);
    test::gradcheck([&](const std::vector<Tensor>& v) { return run(in, v, true); },
                    {in.x, in.weight, in.bias});
  }
}

TEST_CASE("batch_norm: gradient check, eval mode, x/weight/bias, 4-D and 2-D") {
  for (const Shape& shape : {Shape{2, 3, 3, 2}, Shape{4, 3}}) {
    CAPTURE(shape_str(shape));
    BnInputs in = make_inputs(shape, 20, true, true);
    test::gradcheck([&](const std::vector<Tensor>& v) { return run(in, v, false); },
                    {in.x, in.weight, in.bias});
  }
}

TEST_CASE("batch_norm: only x requires grad: weight and bias get no gradient") {
  for (bool training : {true, false}) {
    for (const Shape& shape : {Shape{2, 3, 2, 2}, Shape{5, 3}}) {
      CAPTURE(training);
      CAPTURE(shape_str(shape));
      BnInputs in = make_inputs(shape, 30, true, false);
      test::gradcheck([&](const std::vector<Tensor>& v) { return run(in, v, training); },
                      {in.x, in.weight, in.bias});
      CHECK(in.x.grad().defined());
      CHECK_FALSE(in.weight.grad().defined());
      CHECK_FALSE(in.bias.grad().defined());
    }
  }
}

TEST_CASE("batch_norm: only weight and bias require grad (frozen input), train and eval") {
  for (bool training : {true, false}) {
    CAPTURE(training);
    BnInputs in = make_inputs({3, 2, 2, 3}, 40, false, true);
    test::gradcheck([&](const std::vector<Tensor>& v) { return run(in, v, training); },
                    {in.x, in.weight, in.bias});
    CHECK_FALSE(in.x.grad().defined());
  }
}

TEST_CASE("batch_norm: absent weight and bias act as 1 and 0") {
  BnInputs in = make_inputs({4, 3, 2, 2}, 50, true, false);
  Tensor ones = Tensor::ones({3}, DType::F64), zeros = Tensor::zeros({3}, DType::F64);
  for (bool training : {true, false}) {
    Tensor a = batch_norm(in.x, Tensor(), Tensor(), in.running_mean.clone(),
                          in.running_var.clone(), training, kMomentum, kEps);
    Tensor b = batch_norm(in.x, ones, zeros, in.running_mean.clone(), in.running_var.clone(),
                          training, kMomentum, kEps);
    CHECK(test::max_abs_diff(a, b) == 0.0);
    test::gradcheck(
        [&](const std::vector<Tensor>& v) {
          return batch_norm(v[0], Tensor(), Tensor(), in.running_mean, in.running_var, training,
                            kMomentum, kEps);
        },
        {in.x});
  }
}

TEST_CASE("batch_norm: training normalizes with batch stats and updates running stats in place") {
  // Channel 0: 1, 2, 3, 4 (mean 2.5, biased var 1.25, unbiased 5/3).
  // Channel 1: 0, 0, 0, 4 (mean 1, biased var 3, unbiased 4).
  Tensor x = test::tensor({1, 0, 2, 0, 3, 0, 4, 4}, {4, 2});
  Tensor rm = test::tensor({0, 1}, {2}), rv = test::tensor({1, 2}, {2});
  Tensor y = batch_norm(x, Tensor(), Tensor(), rm, rv, true, kMomentum, kEps);
  CHECK_CLOSE(rm, test::tensor({0.9 * 0 + 0.1 * 2.5, 0.9 * 1 + 0.1 * 1}, {2}), 1e-12, 1e-12);
  CHECK_CLOSE(rv, test::tensor({0.9 * 1 + 0.1 * 5.0 / 3.0, 0.9 * 2 + 0.1 * 4}, {2}), 1e-12, 1e-12);
  const double s0 = 1 / std::sqrt(1.25 + kEps), s1 = 1 / std::sqrt(3 + kEps);
  Tensor expected = test::tensor(
      {-1.5 * s0, -1 * s1, -0.5 * s0, -1 * s1, 0.5 * s0, -1 * s1, 1.5 * s0, 3 * s1}, {4, 2});
  CHECK_CLOSE(y, expected, 1e-12, 1e-12);
  // Eval uses (and keeps) the running stats; no-grad mode still updates them in training.
  Tensor rm_before = rm.clone();
  batch_norm(x, Tensor(), Tensor(), rm, rv, false, kMomentum, kEps);
  CHECK(test::max_abs_diff(rm, rm_before) == 0.0);
  {
    NoGradGuard no_grad;
    batch_norm(x, Tensor(), Tensor(), rm, rv, true, kMomentum, kEps);
  }
  CHECK_CLOSE(rm, test::tensor({0.9 * 0.25 + 0.25, 0.9 * 1 + 0.1 * 1}, {2}), 1e-12, 1e-12);
  // Training without running stats is allowed (nothing to update).
  CHECK_CLOSE(batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true, kMomentum, kEps),
              expected, 1e-12, 1e-12);
}

TEST_CASE("batch_norm: float32 with a large mean matches float64 (two-pass statistics)") {
  // 8*16*16*16 = 32768+ elements: the parallel path. Mean 1000, spread 1: E[x^2]-E[x]^2 in
  // float32 would lose almost every digit of the variance.
  Tensor x64 = test::random({8, 16, 16, 17}, 60, 999, 1001, false).to(DType::F32).to(DType::F64);
  BnInputs in = make_inputs({8, 16, 16, 17}, 61, false, false);
  Tensor rm32 = in.running_mean.to(DType::F32), rv32 = in.running_var.to(DType::F32);
  Tensor y64 = batch_norm(x64, in.weight, in.bias, in.running_mean, in.running_var, true,
                          kMomentum, kEps);
  Tensor y32 = batch_norm(x64.to(DType::F32), in.weight.to(DType::F32), in.bias.to(DType::F32),
                          rm32, rv32, true, kMomentum, kEps);
  CHECK_CLOSE(y32, y64, 1e-5, 1e-5);
  CHECK_CLOSE(rm32, in.running_mean, 1e-6, 1e-6);
  CHECK_CLOSE(rv32, in.running_var, 1e-5, 1e-6);
}

TEST_CASE("batch_norm: argument errors name the problem") {
  BnInputs in = make_inputs({2, 3, 2, 2}, 70, true, true);
  Tensor w4 = Tensor::ones({4}, DType::F64);
  CHECK_THROWS_WITH_AS(batch_norm(in.x, w4, in.bias, in.running_mean, in.running_var, true, 0.1, 1e-5),
                       doctest::Contains("weight has shape [4] but the input [2, 3, 2, 2] has 3 channels"),
                       Error);
  CHECK_THROWS_WITH_AS(batch_norm(in.x, in.weight, in.bias, in.running_mean, w4, false, 0.1, 1e-5),
                       doctest::Contains("running_var has shape [4]"), Error);
  CHECK_THROWS_WITH_AS(batch_norm(in.x, in.weight, in.bias, Tensor(), Tensor(), false, 0.1, 1e-5),
                       doctest::Contains("eval mode needs running_mean"), Error);
  CHECK_THROWS_WITH_AS(batch_norm(in.x, in.weight, in.bias, in.running_mean, Tensor(), true, 0.1, 1e-5),
                       doctest::Contains("both"), Error);
  CHECK_THROWS_WITH_AS(batch_norm(test::random({3}, 1), Tensor(), Tensor(), Tensor(), Tensor(),
                                  true, 0.1, 1e-5),
                       doctest::Contains("expected an (N, C, ...) input"), Error);
  CHECK_THROWS_WITH_AS(batch_norm(test::random({1, 3}, 1), Tensor(), Tensor(), Tensor(), Tensor(),
                                  true, 0.1, 1e-5),
                       doctest::Contains("more than 1 value per channel"), Error);
  CHECK_THROWS_WITH_AS(batch_norm(in.x, in.weight.to(DType::F32), in.bias, in.running_mean,
                                  in.running_var, true, 0.1, 1e-5),
                       doctest::Contains("batch_norm: inputs disagree"), Error);
  Tensor rm_grad = test::random({3}, 2, -1, 1, true);
  CHECK_THROWS_WITH_AS(batch_norm(in.x, in.weight, in.bias, rm_grad, in.running_var, true, 0.1, 1e-5),
                       doctest::Contains("must not require grad"), Error);
}

TEST_CASE("batch_norm: matches PyTorch goldens (train 4-D, eval 4-D, train 2-D)") {
  TensorFile golden = load_safetensors(test::golden_path("batch_norm.safetensors"));
  const double momentum = std::stod(golden.meta("momentum")), eps = std::stod(golden.meta("eps"));
  for (std::string prefix : {"train", "eval", "train1d"}) {
    CAPTURE(prefix);
    auto at = [&](const std::string& key) { return golden.at(prefix + "." + key).clone(); };
    const bool training = prefix != "eval";
    Tensor x = at("x").set_requires_grad(true), weight = at("weight").set_requires_grad(true);
    Tensor bias = at("bias").set_requires_grad(true);
    Tensor rm = at("running_mean"), rv = at("running_var");
    Tensor y = batch_norm(x, weight, bias, rm, rv, training, momentum, eps);
    CHECK_CLOSE(y, at("y"), 1e-4, 1e-4);
    backward(y, at("gy"));
    CHECK_CLOSE(x.grad(), at("gx"), 1e-4, 1e-4);
    CHECK_CLOSE(weight.grad(), at("gweight"), 1e-4, 1e-4);
    CHECK_CLOSE(bias.grad(), at("gbias"), 1e-4, 1e-4);
    if (training) {
      CHECK_CLOSE(rm, at("running_mean_after"), 1e-4, 1e-4);
      CHECK_CLOSE(rv, at("running_var_after"), 1e-4, 1e-4);
    } else {
      CHECK(test::max_abs_diff(rm, at("running_mean")) == 0.0);
      CHECK(test::max_abs_diff(rv, at("running_var")) == 0.0);
    }
  }
}
