// CPU/CUDA parity of the quantization ops (fake_quant, AdaRound and ASoftmax soft rounding,
// qdrop, amixup): forward and every backward output on awkward shapes, run-to-run determinism of
// the reductions, and device-side errors. Skips without a GPU.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <functional>

#include "autograd/engine.h"
#include "core/rng.h"
#include "ops/fake_quant.h"
#include "ops/lp_error.h"
#include "quant/mse_observer.h"
#include "ops/mix.h"
#include "ops/adaround.h"
#include "ops/asoftmax.h"
#include "tests/cuda_parity.h"
#include "tests/helpers.h"

using namespace nwq;

namespace {

using test::rand32;
using test::same_bytes;

using test::OpFn;


// Integer-valued floats in [lo, hi].
Tensor rand_int_f32(const Shape& shape, uint64_t seed, int lo, int hi) {
  Rng rng(seed);
  Tensor t = Tensor::empty(shape, DType::F32);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = float(lo + rng.randint(hi - lo + 1));
  return t;
}


using test::check_parity;
using test::Tolerance;

// x in a range that clamps on both sides, with exact ties on a quarter-step grid mixed in.
Tensor quant_input(const Shape& shape, uint64_t seed) {
  Tensor x = rand32(shape, seed, -3, 3);
  for (int64_t i = 0; i < x.numel(); i += 3)
    x.data<float>()[i] = std::round(x.data<float>()[i] * 8) / 8;
  return x;
}

}  // namespace

TEST_SUITE("cuda") {
  PARITY_CASE("cuda quant: range-search error sums and QDrop's observer match the CPU",
              "quant_error_sums") {
    Tensor x = rand32({3, 5, 37, 41}, 9, -2, 3);  // two-sided, not a multiple of any block size
    const std::vector<float> s = {0.01f, 0.05f, 0.3f, 1e-8f, 2.0f}, z = {0, 3, 15, 7, 1};
    const std::vector<double> cpu = quant_error_sums(x, s, z, 15, 2.4);
    const std::vector<double> gpu = quant_error_sums(x.to(Device::cuda()), s, z, 15, 2.4);
    REQUIRE(gpu.size() == cpu.size());
    for (size_t k = 0; k < cpu.size(); ++k) CHECK(gpu[k] == doctest::Approx(cpu[k]).epsilon(1e-11));
    CHECK(quant_error_sums(x.to(Device::cuda()), s, z, 15, 2.4) == gpu);  // run to run: same bits
    Tensor relu = rand32({4, 7, 33, 29}, 10, -1, 2);
    for (int64_t i = 0; i < relu.numel(); ++i) relu.data<float>()[i] = std::max(relu.data<float>()[i], 0.0f);
    for (const Tensor& data : {x, relu}) {
      for (int bits : {2, 4, 8}) {
        CAPTURE(bits);
        const QuantRange a = mse_observe_tensor(data, bits, 2.4);
        const QuantRange b = mse_observe_tensor(data.to(Device::cuda()), bits, 2.4);
        CHECK(b.scale == doctest::Approx(a.scale).epsilon(1e-6));
        CHECK(b.zero_point == a.zero_point);
      }
    }
  }

  PARITY_CASE("cuda quant: fake_quant forward and gradients match the CPU",
              "fake_quant_forward", "fake_quant_backward") {
    struct Case {
      Shape shape;
      int axis;
    };
    const Case cases[] = {
        {{1}, -1},          {{7, 13}, -1}, {{2, 3, 17, 19}, -1}, {{(1 << 20) + 3}, -1},
        {{37, 3, 3, 3}, 0}, {{1, 5}, 0},   {{3, 67, 5, 7}, 1},   {{2, 3, 31}, 2},
        {{300, 4100}, 0}};
    for (const Case& c : cases) {
      INFO("x ", shape_str(c.shape), " axis ", c.axis);
      const int64_t channels = c.axis < 0 ? 1 : c.shape[size_t(c.axis)];
      Tensor x = quant_input(c.shape, 1);
      Tensor s = Tensor::empty({channels});
      for (int64_t k = 0; k < channels; ++k)
        s.data<float>()[k] = k % 4 == 0 ? 0.25f : 0.05f + 0.01f * float(k % 7);
      Tensor z = rand_int_f32({channels}, 3, 0, 4);
      const double g = 1.0 / std::sqrt(double(x.numel()) * 15);
      auto f = [&](const std::vector<Tensor>& in) {
        return fake_quant(in[0], in[1], in[2], 0, 15, c.axis, g);
      };
      check_parity(f, {x, s, z}, {true, true, false}, {0, 0, 1e-6, 1e-7});  // gx is bitwise below
      check_parity(f, {x, s, z}, {true, false, false}, {0, 0, 0, 0});       // gx alone
      check_parity(f, {x, s, Tensor()}, {false, true, false}, {0, 0, 1e-6, 1e-7});
    }
  }

  TEST_CASE("cuda quant: fake_quant scale gradient is deterministic run to run") {
    Tensor x = quant_input({3, 1 << 19}, 5).to(Device::cuda());
    Tensor s = Tensor::full({1}, 0.1).to(Device::cuda()).set_requires_grad(true);
    Tensor gy = rand32({3, 1 << 19}, 6).to(Device::cuda());
    backward(fake_quant(x, s, Tensor(), -8, 7), gy);
    Tensor first = s.grad().clone();
    for (int rep = 0; rep < 3; ++rep) {
      s.zero_grad();
      backward(fake_quant(x, s, Tensor(), -8, 7), gy);
      CHECK(same_bytes(s.grad(), first));
    }
  }

  PARITY_CASE("cuda quant: adaround h, regularizer, soft weight and hardening match the CPU",
              "adaround_forward", "adaround_backward", "adaround_h_forward", "adaround_h_backward",
              "adaround_reg_forward", "adaround_reg_backward", "hard_round_adaround") {
    const Tolerance elementwise{1e-5, 1e-6, 1e-5, 1e-6};
    for (const Shape& shape : {Shape{1, 1}, Shape{37, 11}, Shape{64, 3, 3, 3}, Shape{129, 1031}}) {
      INFO("w ", shape_str(shape));
      Tensor v = rand32(shape, 7, -4, 4), wf = rand_int_f32(shape, 8, -10, 10);
      Tensor s = rand32({shape[0]}, 9, 0.01, 0.1), z = rand_int_f32({shape[0]}, 10, 6, 9);
      check_parity([](const std::vector<Tensor>& in) { return adaround_h(in[0]); }, {v}, {true},
                   elementwise);
      for (double beta : {2.0, 11.5, 20.0}) {
        check_parity(
            [beta](const std::vector<Tensor>& in) { return adaround_regularizer(in[0], beta); },
            {v}, {true}, {1e-5, 1e-5, 1e-5, 1e-6});
      }
      check_parity(
          [&](const std::vector<Tensor>& in) {
            return adaround_soft_weight(in[0], in[1], in[2], in[3], 0, 15);
          },
          {wf, v, s, z}, {false, true, false, false}, elementwise);
      check_parity([](const std::vector<Tensor>& in) { return hard_round_adaround(in[0]); }, {v},
                   {false}, {0, 0, 0, 0});
    }
  }

  PARITY_CASE("cuda quant: asoftmax soft weight, init logits and hardening match the CPU",
              "asoftmax_forward", "asoftmax_backward", "asoftmax_init", "hard_round_asoftmax") {
    for (const Shape& shape : {Shape{1, 1}, Shape{37, 11}, Shape{64, 3, 3, 3}, Shape{97, 1031}}) {
      for (int64_t n : {0, -1}) {
        const int64_t k = n == 0 ? 2 : 4;
        INFO("w ", shape_str(shape), " candidates ", n, "..", n + k - 1);
        Shape vshape = shape;
        vshape.insert(vshape.begin(), k);
        Tensor v = rand32(vshape, 11, -2, 2), wf = rand_int_f32(shape, 12, -10, 10);
        Tensor s = rand32({shape[0]}, 13, 0.01, 0.1), z = rand_int_f32({shape[0]}, 14, 6, 9);
        for (double tau : {1.0, 0.1, 0.01}) {
          INFO("tau ", tau);
          check_parity(
              [&](const std::vector<Tensor>& in) {
                return asoftmax_soft_weight(in[0], in[1], n, tau, in[2], in[3], 0, 15);
              },
              {wf, v, s, z}, {false, true, false, false}, {1e-5, 1e-6, 1e-4, 1e-5});
        }
        check_parity([n](const std::vector<Tensor>& in) { return hard_round_asoftmax(in[0], n); },
                     {v}, {false}, {0, 0, 0, 0});
        Tensor frac = rand32(shape, 15, 0, 1);
        frac.data<float>()[0] = 0.0f;
        check_parity(
            [n, k](const std::vector<Tensor>& in) {
              return asoftmax_init_logits(in[0], n, n + k - 1);
            },
            {frac}, {false}, {1e-6, 1e-6, 0, 0});
      }
    }
  }

  PARITY_CASE("cuda quant: qdrop draws the same mask on both devices; amixup matches",
              "qdrop_forward", "qdrop_backward", "mix_forward", "mix_backward") {
    for (const Shape& shape : {Shape{1}, Shape{3, 17, 19}, Shape{(1 << 20) + 7}}) {
      INFO("x ", shape_str(shape));
      Tensor xq = rand32(shape, 21), xf = rand32(shape, 22);
      for (double p : {0.5, 0.1, 1.0}) {
        check_parity(
            [p](const std::vector<Tensor>& in) {
              Rng rng(77);
              return qdrop(in[0], in[1], p, rng);
            },
            {xq, xf}, {true, true}, {0, 0, 0, 0});
      }
      check_parity([](const std::vector<Tensor>& in) { return amixup(in[0], in[1], 0.3); },
                   {xf, xq}, {true, true}, {1e-6, 1e-7, 1e-6, 1e-7});
      check_parity([](const std::vector<Tensor>& in) { return amixup(in[0], in[1], 0.7); },
                   {xf, xq}, {false, true}, {1e-6, 1e-7, 1e-6, 1e-7});
    }
  }

  TEST_CASE("cuda quant: errors on device tensors; a bad scale on CUDA gives NaN") {
    Tensor x = rand32({4, 6}, 1).to(Device::cuda());
    Tensor s = Tensor::full({1}, 0.1).to(Device::cuda());
    CHECK_THROWS_WITH_AS(fake_quant(x, s, Tensor(), 0, 7, 1),
                         doctest::Contains("needs 6 element(s)"), Error);
    CHECK_THROWS_WITH_AS(fake_quant(x, Tensor::full({1}, 0.1), Tensor(), 0, 7),
                         doctest::Contains("fake_quant: inputs disagree"), Error);
    CHECK_THROWS_WITH_AS(amixup(x, x.view({6, 4}), 0.5), doctest::Contains("amixup"), Error);
    Rng rng(1);
    CHECK_THROWS_WITH_AS(qdrop(x, x.to(Device::cpu()), 0.5, rng), doctest::Contains("qdrop"),
                         Error);
    CHECK_THROWS_WITH_AS(
        asoftmax_soft_weight(x, x, 0, 1.0, Tensor::full({4}, 0.1).to(Device::cuda()), Tensor(), 0,
                             7),
        doctest::Contains("must be [K, ...w_floor.shape]"), Error);
    Tensor bad = Tensor::from_vector<float>({0.1f, -0.1f, 0.0f, 0.2f}, {4}).to(Device::cuda());
    std::vector<float> y = fake_quant(x, bad, Tensor(), 0, 7, 0).to_vector<float>();
    CHECK(std::isfinite(y[0]));
    CHECK(std::isnan(y[6]));
    CHECK(std::isnan(y[12]));
    CHECK(std::isfinite(y[18]));
  std::vector<float> w = adaround_soft_weight(x, x, bad, Tensor(), 0, 7).to_vector<float>();
  CHECK(std::isfinite(w[0]));
  CHECK(std::isnan(w[6]));
  std::vector<float> wa = asoftmax_soft_weight(x, x.view({1, 4, 6}), 0, 1.0, bad, Tensor(), 0, 7)
                              .to_vector<float>();
  CHECK(std::isnan(wa[12]));
  CHECK(std::isfinite(wa[18]));
  }

}  // TEST_SUITE("cuda")
