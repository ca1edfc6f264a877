// CPU/CUDA parity of the elementwise (relu, binary, unary, where), reduce, shape, loss, batch_norm
// and optimizer-step kernels: forward and every backward output on awkward shapes (size 1, primes,
// channels not a multiple of 32, > 1M elements), device-side errors, reductions run to run.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>

#include "autograd/engine.h"
#include "core/rng.h"
#include "ops/activation.h"
#include "ops/batch_norm.h"
#include "ops/elementwise.h"
#include "ops/loss.h"
#include "ops/reduce.h"
#include "ops/shape.h"
#include "optim/optimizer.h"
#include "tests/cuda_parity.h"
#include "tests/helpers.h"

using namespace nwq;

namespace {

using test::rand32;
using test::same_bytes;

using test::OpFn;

// The shared check (tests/cuda_parity.h) with the tolerances in this file's order: gradients
// first, then the output.
void check_parity(const OpFn& f, const std::vector<Tensor>& inputs, const std::vector<bool>& grad,
                  double rtol, double atol, double fwd_rtol = 1e-5, double fwd_atol = 1e-6) {
  test::check_parity(f, inputs, grad, {fwd_rtol, fwd_atol, rtol, atol});
}

}  // namespace

TEST_SUITE("cuda") {

PARITY_CASE("cuda elementwise: add/sub/mul/div with broadcasting, forward and both gradients",
            "binary_forward") {
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{1}, {1}},           {{7}, {7}},          {{1000003}, {1000003}}, {{}, {1000003}},
      {{13, 1}, {1}},       {{5, 1}, {1, 6}},    {{2, 3, 5, 7}, {3, 1, 7}},
      {{1, 37, 13, 11}, {1, 37, 1, 1}},          {{64, 33, 29, 29}, {33, 1, 1}},
      {{3, 1, 4, 1, 5, 1}, {1, 6, 1, 3, 1, 7}},  {{1, 1, 1}, {4, 1, 3}}};
  const std::vector<std::pair<const char*, std::function<Tensor(Tensor, Tensor)>>> ops = {
      {"add", [](Tensor a, Tensor b) { return add(a, b); }},
      {"sub", [](Tensor a, Tensor b) { return sub(a, b); }},
      {"mul", [](Tensor a, Tensor b) { return mul(a, b); }},
      {"div", [](Tensor a, Tensor b) { return div(a, b); }}};
  uint64_t seed = 1;
  for (const auto& [sa, sb] : shapes) {
    for (const auto& [name, op] : ops) {
      INFO(name, " ", shape_str(sa), " with ", shape_str(sb));
      Tensor a = rand32(sa, seed++, -2, 2), b = rand32(sb, seed++, 0.5, 2);
      auto f = [op = op](const std::vector<Tensor>& v) { return op(v[0], v[1]); };
      check_parity(f, {a, b}, {true, true}, 1e-4, 1e-5);
      // Swapped operands (b broadcast on the left), and only one input requiring grad.
      check_parity([op = op](const std::vector<Tensor>& v) { return op(v[1], v[0]); }, {a, b},
                   {false, true}, 1e-4, 1e-5);
    }
  }
}

PARITY_CASE("cuda elementwise: broadcast_to and binary errors on device tensors", "expand") {
  for (const auto& [from, to] : std::vector<std::pair<Shape, Shape>>{
           {{3, 1, 5}, {4, 3, 7, 5}}, {{1}, {1000003}}, {{37, 1}, {2, 37, 129}}}) {
    INFO(shape_str(from), " -> ", shape_str(to));
    check_parity([to = to](const std::vector<Tensor>& v) { return broadcast_to(v[0], to); },
                 {rand32(from, 5)}, {true}, 1e-5, 1e-5);
  }
  Tensor a = rand32({2, 3}, 1).to(Device::cuda()), b = rand32({4}, 2).to(Device::cuda());
  CHECK_THROWS_WITH_AS(add(a, b), doctest::Contains("cannot be broadcast"), Error);
  CHECK_THROWS_WITH_AS(mul(a, rand32({2, 3}, 3)), doctest::Contains("mul"), Error);
  Tensor seven_a = Tensor::zeros({3, 1, 4, 1, 5, 1, 2}, DType::F32, Device::cuda());
  Tensor seven_b = Tensor::zeros({1, 6, 1, 3, 1, 7, 1}, DType::F32, Device::cuda());
  CHECK_THROWS_WITH_AS(add(seven_a, seven_b), doctest::Contains("need more than 6 dims"), Error);
}

PARITY_CASE("cuda elementwise: unary ops and scalar arithmetic, forward and backward",
            "unary_forward", "unary_backward") {
  using Op = std::function<Tensor(const Tensor&)>;
  struct Case {
    const char* name;
    Op op;
    double lo, hi;
  };
  const std::vector<Case> cases = {
      {"neg", [](const Tensor& x) { return neg(x); }, -3, 3},
      {"square", [](const Tensor& x) { return square(x); }, -3, 3},
      {"exp", [](const Tensor& x) { return nwq::exp(x); }, -5, 5},
      {"log", [](const Tensor& x) { return nwq::log(x); }, 0.05, 8},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }, -8, 8},
      {"clamp", [](const Tensor& x) { return clamp(x, -0.5, 0.75); }, -2, 2},
      {"abs", [](const Tensor& x) { return nwq::abs(x); }, -3, 3},
      {"sqrt", [](const Tensor& x) { return nwq::sqrt(x); }, 0.05, 9},
      {"pow 2.5", [](const Tensor& x) { return nwq::pow(x, 2.5); }, 0.1, 3},
      {"pow -1.5", [](const Tensor& x) { return nwq::pow(x, -1.5); }, 0.2, 3},
      {"pow 3", [](const Tensor& x) { return nwq::pow(x, 3.0); }, -2, 2},
      {"pow 0", [](const Tensor& x) { return nwq::pow(x, 0.0); }, -2, 2},
      {"add", [](const Tensor& x) { return x + 1.3; }, -3, 3},
      {"sub", [](const Tensor& x) { return x - 0.1; }, -3, 3},
      {"mul", [](const Tensor& x) { return x * -2.7; }, -3, 3},
      {"div", [](const Tensor& x) { return x / 7.0; }, -3, 3},
      {"rsub", [](const Tensor& x) { return 0.3 - x; }, -3, 3},
      {"rdiv", [](const Tensor& x) { return 3.0 / x; }, 0.3, 3},
  };
  uint64_t seed = 100;
  for (const Case& c : cases) {
    for (int64_t n : {1, 7, 1000003}) {
      INFO(c.name, " n = ", n);
      Tensor x = rand32({n}, seed++, c.lo, c.hi);
      if (n >= 7 && c.lo < 0) {  // the kinks of clamp and abs, exactly
        float* p = x.data<float>();
        p[1] = 0.0f, p[2] = -0.5f, p[3] = 0.75f, p[4] = -0.0f;
      }
      check_parity([op = c.op](const std::vector<Tensor>& v) { return op(v[0]); }, {x}, {true},
                   1e-5, 1e-6);
    }
  }
  // A 4-D input goes through the same flat kernels.
  check_parity([](const std::vector<Tensor>& v) { return sigmoid(v[0]) * v[0]; },
               {rand32({3, 37, 5, 7}, 7, -4, 4)}, {true}, 1e-5, 1e-6);
}

PARITY_CASE("cuda elementwise: greater and where, forward and both gradients",
            "greater", "where_forward", "where_backward") {
  for (int64_t n : {1, 7, 1000003}) {
    INFO("n = ", n);
    Tensor x = rand32({n}, 200 + n, -1, 1);
    if (n >= 7) x.data<float>()[3] = 0.25f;  // equal to the threshold: not greater
    Tensor mask = greater(x, 0.25);
    Tensor mask_dev = greater(x.to(Device::cuda()), 0.25);
    CHECK(mask_dev.device() == Device::cuda());
    CHECK(mask_dev.dtype() == DType::U8);
    CHECK(same_bytes(mask_dev, mask));
    Tensor a = rand32({n}, 300 + n), b = rand32({n}, 400 + n);
    for (std::vector<bool> grads : {std::vector<bool>{false, true, true},
                                    std::vector<bool>{false, true, false},
                                    std::vector<bool>{false, false, true}}) {
      check_parity([](const std::vector<Tensor>& v) { return where(v[0], v[1], v[2]); },
                   {mask, a, b}, grads, 0, 0, 0, 0);
    }
  }
  Tensor cpu_mask = greater(rand32({5}, 1), 0.0);
  CHECK_THROWS_WITH_AS(where(cpu_mask, rand32({5}, 2).to(Device::cuda()),
                             rand32({5}, 3).to(Device::cuda())),
                       doctest::Contains("where: mask must be a uint8 tensor on cuda"), Error);
}

TEST_CASE("cuda elementwise: dropout draws the same mask on both devices for the same seed") {
  for (int64_t n : {1, 7, 1000003}) {
    for (double p : {0.0, 0.3, 1.0}) {
      INFO("n = ", n, " p = ", p);
      Tensor x = rand32({n}, 500 + n);
      Tensor xc = x.clone().set_requires_grad(true);
      Tensor xg = x.to(Device::cuda()).set_requires_grad(true);
      Rng rng_c(42), rng_g(42);
      Tensor yc = dropout(xc, p, true, rng_c), yg = dropout(xg, p, true, rng_g);
      CHECK(yg.device() == Device::cuda());
      CHECK(same_bytes(yg, yc));
      CHECK(rng_c.next_u64() == rng_g.next_u64());  // both advanced by the same draws
      if (p == 0.0) {  // the identity: x itself
        CHECK(yg.same(xg));
        continue;
      }
      Tensor gy = rand32({n}, 600 + n);
      backward(yc, gy);
      backward(yg, gy.to(Device::cuda()));
      REQUIRE(xg.grad().defined());
      CHECK(same_bytes(xg.grad(), xc.grad()));
    }
  }
  Rng rng(1);
  Tensor dev = rand32({3}, 1).to(Device::cuda());
  CHECK(dropout(dev, 0.5, false, rng).same(dev));  // eval: identity
  CHECK_THROWS_WITH_AS(dropout(dev, 1.5, true, rng), doctest::Contains("dropout: p must be in"),
                       Error);
}

PARITY_CASE("cuda elementwise: sum and mean over all or some dims, forward and backward", "sum") {
  struct Case {
    Shape shape;
    std::vector<int64_t> dims;  // empty with all = true: every dim
    bool all, keepdim;
  };
  const std::vector<Case> cases = {
      {{1}, {}, true, false},
      {{7}, {}, true, false},
      {{1000003}, {}, true, false},
      {{64, 33, 29, 29}, {}, true, false},   // 1.8M elements, one output
      {{1000, 37}, {0}, false, false},       // columns, r split into segments
      {{37, 1000}, {1}, false, true},        // short rows: a warp each
      {{2, 70001}, {-1}, false, false},      // long rows: block segments
      {{8, 37, 13, 11}, {0, 2, 3}, false, true},  // the batch-norm / bias-gradient pattern
      {{5, 6, 7, 8}, {1, 3}, false, false},
      {{3, 100003, 5}, {1}, false, false},   // few columns, many rows: segments
      {{300007, 3}, {0}, false, true},
      {{4, 1, 3}, {1}, false, false},        // a size-1 dim only: a scaled copy
      {{2, 3, 4}, {}, false, false},         // no dims: a copy
  };
  for (const Case& c : cases) {
    for (bool is_mean : {false, true}) {
      INFO((is_mean ? "mean " : "sum "), shape_str(c.shape), (c.keepdim ? " keepdim" : ""));
      auto f = [&c, is_mean](const std::vector<Tensor>& v) {
        if (c.all) return is_mean ? mean(v[0]) : sum(v[0]);
        return is_mean ? mean(v[0], c.dims, c.keepdim) : sum(v[0], c.dims, c.keepdim);
      };
      check_parity(f, {rand32(c.shape, 700, -1, 2)}, {true}, 1e-5, 1e-6, 1e-5, 1e-5);
    }
  }
  // Reductions over zero elements: 0 for sum, NaN for mean, on both devices.
  Tensor empty = Tensor::zeros({0, 3}, DType::F32, Device::cuda());
  CHECK(sum(empty, {0}).to_vector<float>() == std::vector<float>(3, 0.0f));
  for (float v : mean(empty, {0}).to_vector<float>()) CHECK(std::isnan(v));
  CHECK_THROWS_WITH_AS(sum(empty, {2}), doctest::Contains("sum: dim 2 out of range"), Error);
}

TEST_CASE("cuda elementwise: reductions are bitwise reproducible from run to run") {
  Tensor x = rand32({64, 33, 29, 29}, 800, -1, 1).to(Device::cuda());
  CHECK(same_bytes(sum(x), sum(x)));
  CHECK(same_bytes(sum(x, {0, 2, 3}), sum(x, {0, 2, 3})));
  Tensor w = rand32({33}, 801, 0.5, 1.5).to(Device::cuda());
  Tensor b = rand32({33}, 802).to(Device::cuda());
  Tensor y1 = batch_norm(x, w, b, Tensor(), Tensor(), true, 0.1, 1e-5);
  Tensor y2 = batch_norm(x, w, b, Tensor(), Tensor(), true, 0.1, 1e-5);
  CHECK(same_bytes(y1, y2));
  Tensor t = mse_loss(x, x * 0.5);
  CHECK(same_bytes(t, mse_loss(x, x * 0.5)));
}

PARITY_CASE("cuda elementwise: concat, pad_channels, subsample_spatial and permute",
            "slab_copy", "subsample_forward", "subsample_backward") {
  for (int64_t dim : {0, 1, 2, -1}) {
    INFO("concat dim ", dim);
    Shape s1{2, 3, 5, 7}, s2 = s1, s3 = s1;
    const size_t d = size_t(dim < 0 ? dim + 4 : dim);
    s2[d] = 1, s3[d] = 4;
    check_parity([dim](const std::vector<Tensor>& v) { return concat(v, dim); },
                 {rand32(s1, 1), rand32(s2, 2), rand32(s3, 3)}, {true, false, true}, 0, 0, 0, 0);
  }
  check_parity([](const std::vector<Tensor>& v) { return concat(v, 1); },
               {rand32({8, 37, 61, 61}, 4), rand32({8, 1, 61, 61}, 5)}, {true, true}, 0, 0, 0, 0);
  for (auto [before, after] : std::vector<std::pair<int64_t, int64_t>>{{0, 0}, {3, 5}, {0, 16}}) {
    INFO("pad ", before, ", ", after);
    check_parity([b = before, a = after](const std::vector<Tensor>& v) {
                   return pad_channels(v[0], b, a);
                 },
                 {rand32({3, 13, 7, 5}, 6)}, {true}, 0, 0, 0, 0);
  }
  for (const Shape& shape : {Shape{2, 5, 13, 11}, Shape{1, 3, 1, 1}, Shape{8, 64, 56, 56}}) {
    for (int64_t stride : {1, 2, 3}) {
      INFO("subsample ", shape_str(shape), " stride ", stride);
      check_parity([stride](const std::vector<Tensor>& v) {
                     return subsample_spatial(v[0], stride);
                   },
                   {rand32(shape, 7)}, {true}, 0, 0, 0, 0);
    }
  }
  check_parity([](const std::vector<Tensor>& v) { return permute(v[0], {2, 0, 3, 1}) * 2.0; },
               {rand32({3, 4, 5, 6}, 8)}, {true}, 0, 0, 0, 0);
  Tensor dev = rand32({2, 3}, 9).to(Device::cuda());
  CHECK_THROWS_WITH_AS(subsample_spatial(dev, 2), doctest::Contains("expected an NCHW tensor"),
                       Error);
  CHECK_THROWS_WITH_AS(concat({dev, rand32({2, 3}, 10)}, 0), doctest::Contains("concat"), Error);
}

PARITY_CASE("cuda elementwise: log_softmax, cross_entropy and mse_loss, forward and backward",
            "log_softmax_forward", "log_softmax_backward", "cross_entropy_forward",
            "cross_entropy_backward", "mse_loss_forward", "mse_loss_backward") {
  for (const Shape& shape : {Shape{1, 1}, Shape{7, 10}, Shape{3, 2000}, Shape{5, 3, 13},
                             Shape{4099, 37}}) {
    INFO("log_softmax ", shape_str(shape));
    check_parity([](const std::vector<Tensor>& v) { return log_softmax(v[0]); },
                 {rand32(shape, 11, -6, 6)}, {true}, 1e-5, 1e-6);
  }
  for (const Shape& shape : {Shape{1, 1}, Shape{13, 10}, Shape{64, 1000}, Shape{3, 1500},
                             Shape{4099, 37}}) {
    for (double smoothing : {0.0, 0.1, 1.0}) {
      INFO("cross_entropy ", shape_str(shape), " smoothing ", smoothing);
      Rng rng(12);
      std::vector<int64_t> t(static_cast<size_t>(shape[0]));
      for (int64_t& v : t) v = rng.randint(shape[1]);
      Tensor target = Tensor::from_vector(t, {shape[0]});
      check_parity([smoothing](const std::vector<Tensor>& v) {
                     return cross_entropy(v[0], v[1], smoothing);
                   },
                   {rand32(shape, 13, -5, 5), target}, {true, false}, 1e-5, 1e-10, 1e-5, 1e-6);
    }
  }
  for (const Shape& shape : {Shape{1}, Shape{7}, Shape{4096}, Shape{4, 8191}, Shape{1000003}}) {
    for (std::vector<bool> grads : {std::vector<bool>{true, true}, std::vector<bool>{true, false},
                                    std::vector<bool>{false, true}}) {
      INFO("mse_loss ", shape_str(shape));
      check_parity([](const std::vector<Tensor>& v) { return mse_loss(v[0], v[1]); },
                   {rand32(shape, 14, -2, 2), rand32(shape, 15, -1, 1)}, grads, 1e-5, 1e-12);
    }
  }
  Tensor logits = rand32({3, 4}, 16).to(Device::cuda());
  Tensor bad = Tensor::from_vector(std::vector<int64_t>{0, 4, 1}, {3}, Device::cuda());
  CHECK_THROWS_WITH_AS(cross_entropy(logits, bad), doctest::Contains("target 4 in row 1"), Error);
  Tensor host_target = Tensor::from_vector(std::vector<int64_t>{0, 1, 2}, {3});
  CHECK_THROWS_WITH_AS(cross_entropy(logits, host_target), doctest::Contains("but target on cpu"),
                       Error);
  CHECK_THROWS_WITH_AS(mse_loss(logits, rand32({4, 3}, 17).to(Device::cuda())),
                       doctest::Contains("mse_loss: shapes differ"), Error);
  CHECK(count_correct(logits, Tensor::from_vector(std::vector<int64_t>{0, 1, 2}, {3},
                                                  Device::cuda())) >= 0);
}

PARITY_CASE("cuda elementwise: batch_norm train and eval, forward, running stats and gradients",
            "batch_norm_forward_train", "batch_norm_forward_eval", "batch_norm_backward_train",
            "batch_norm_backward_eval") {
  const std::vector<Shape> shapes = {{1, 37, 13, 11}, {8, 37, 1, 1}, {2, 5},  {16, 3, 7, 5},
                                     {4, 2053, 3, 3},  // more channels than the grid target
                                     {32, 2, 224, 224}};  // 1.6M values a channel
  uint64_t seed = 900;
  for (const Shape& shape : shapes) {
    const int64_t c = shape[1];
    for (bool affine : {true, false}) {
      for (bool training : {true, false}) {
        INFO(shape_str(shape), affine ? " affine" : " no weight/bias",
             training ? " train" : " eval");
        Tensor x = rand32(shape, seed++, -2, 3);
        x = x + 40.0;  // a large mean: the two-pass variance keeps it accurate
        Tensor w = affine ? rand32({c}, seed++, 0.5, 1.5) : Tensor();
        Tensor b = affine ? rand32({c}, seed++, -0.5, 0.5) : Tensor();
        Tensor rm = rand32({c}, seed++, 39.7, 40.3), rv = rand32({c}, seed++, 0.5, 1.5);
        Tensor rm_c = rm.clone(), rv_c = rv.clone();
        Tensor rm_g = rm.to(Device::cuda()), rv_g = rv.to(Device::cuda());
        auto f = [&](const std::vector<Tensor>& v) {
          const bool dev = v[0].device().is_cuda();
          return batch_norm(v[0], v[1], v[2], dev ? rm_g : rm_c, dev ? rv_g : rv_c, training,
                            0.1, 1e-5);
        };
        check_parity(f, {x, w, b}, {true, affine, affine}, 1e-4, 1e-5, 1e-5, 1e-5);
        CHECK_CLOSE(rm_g, rm_c, 1e-6, 1e-6);
        CHECK_CLOSE(rv_g, rv_c, 1e-6, 1e-6);
        // Subsets of the gradients: without gx, and without gweight (x unread in eval).
        if (affine) {
          check_parity(f, {x, w, b}, {false, true, true}, 1e-4, 1e-5, 1e-5, 1e-5);
          check_parity(f, {x, w, b}, {true, false, true}, 1e-4, 1e-5, 1e-5, 1e-5);
        }
      }
    }
  }
  // Train mode without running stats.
  check_parity([](const std::vector<Tensor>& v) {
                 return batch_norm(v[0], v[1], v[2], Tensor(), Tensor(), true, 0.1, 1e-5);
               },
               {rand32({4, 33, 9, 9}, 1), rand32({33}, 2), rand32({33}, 3)}, {true, true, true},
               1e-4, 1e-5);
  Tensor dev = rand32({2, 3, 4, 4}, 4).to(Device::cuda());
  CHECK_THROWS_WITH_AS(batch_norm(dev, rand32({4}, 5).to(Device::cuda()), Tensor(), Tensor(),
                                  Tensor(), true, 0.1, 1e-5),
                       doctest::Contains("batch_norm: weight has shape [4]"), Error);
  CHECK_THROWS_WITH_AS(batch_norm(dev, rand32({3}, 5), Tensor(), Tensor(), Tensor(), true, 0.1,
                                  1e-5),
                       doctest::Contains("batch_norm"), Error);
  CHECK_THROWS_WITH_AS(batch_norm(rand32({1, 3}, 6).to(Device::cuda()), Tensor(), Tensor(),
                                  Tensor(), Tensor(), true, 0.1, 1e-5),
                       doctest::Contains("more than 1 value per channel"), Error);
}

PARITY_CASE("cuda elementwise: relu and relu6 forward and backward match the CPU", "relu_forward",
            "relu_backward") {
  for (int64_t n : {1, 7, 1000003}) {
    Tensor x = rand32({n}, 10 + n, -8, 8);
    if (n >= 7) {  // the kinks and a NaN
      float* p = x.data<float>();
      p[1] = 0.0f, p[2] = 6.0f, p[3] = -0.0f, p[4] = std::numeric_limits<float>::quiet_NaN();
    }
    for (bool six : {false, true}) {
      INFO("n = ", n, six ? " relu6" : " relu");
      check_parity([six](const std::vector<Tensor>& v) { return six ? relu6(v[0]) : relu(v[0]); },
                   {x}, {true}, 0, 0, 0, 0);
    }
  }
}

template <class Opt, class Options>
static void check_optimizer_parity(const char* name, const Options& options, int64_t n) {
  INFO(name, " n = ", n);
  Tensor p0 = rand32({n}, 100 + n, -1, 1);
  Tensor pc = p0.clone().set_requires_grad(true);
  Tensor pg = p0.to(Device::cuda()).set_requires_grad(true);
  Opt cpu({pc}, options), gpu({pg}, options);
  for (int step = 0; step < 3; ++step) {
    Tensor g = rand32({n}, 200 + step, -1, 1);
    pc.set_grad(g);
    pg.set_grad(g.to(Device::cuda()));
    cpu.step();
    gpu.step();
    CHECK(pg.device() == Device::cuda());
    CHECK_CLOSE(pg, pc, 1e-5, 1e-6);  // nvcc fuses multiply-adds; g++ -std=c++17 does not
    for (size_t k = 0; k < cpu.state().size(); ++k) CHECK_CLOSE(gpu.state()[k], cpu.state()[k], 1e-5, 1e-6);
  }
}

// Optimizer steps are not ops (no autograd), so they have their own loop: three steps on the CPU
// and the GPU from the same start, comparing the parameters and the optimizer state.
PARITY_CASE("cuda elementwise: SGD and Adam steps match the CPU", "sgd_step", "adam_step") {
  for (int64_t n : {1, 7, 1000003}) {
    check_optimizer_parity<Sgd>("sgd", SgdOptions{0.1, 0.0, 0.0, false}, n);
    check_optimizer_parity<Sgd>("sgd momentum", SgdOptions{0.1, 0.9, 0.01, false}, n);
    check_optimizer_parity<Sgd>("sgd nesterov", SgdOptions{0.1, 0.9, 0.01, true}, n);
    AdamOptions adam;
    adam.lr = 0.01;
    adam.weight_decay = 0.01;
    check_optimizer_parity<Adam>("adam", adam, n);
    adam.decoupled = true;
    adam.weight_decay = 0.1;
    check_optimizer_parity<Adam>("adamw", adam, n);
  }
}

}  // TEST_SUITE("cuda")
