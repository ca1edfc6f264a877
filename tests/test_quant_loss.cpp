// The reconstruction loss reductions (BRECQ/QDrop's lp_loss vs per-sample sums) and AdaRound's
// beta schedule counted as BRECQ/QDrop's LossFunction counts.
#include <doctest/doctest.h>

#include <cmath>

#include "quant/unit_optimizer.h"
#include "tests/helpers.h"

using namespace nwq;

TEST_CASE("quant loss: channel reduction is lp_loss (sum over dim 1, mean over the rest)") {
  Tensor a = test::rand32({3, 4, 5, 2}, 1), b = test::rand32({3, 4, 5, 2}, 2);
  std::vector<float> av = a.to_vector<float>(), bv = b.to_vector<float>();
  double total = 0;
  for (size_t i = 0; i < av.size(); ++i) total += double(av[i] - bv[i]) * double(av[i] - bv[i]);
  // (pred - tgt).abs().pow(2).sum(1).mean(): the sum over all values / (N * H * W).
  CHECK(reconstruction_loss(a, b, LossReduce::Channel).item() == doctest::Approx(total / (3 * 5 * 2)).epsilon(1e-6));
  CHECK(reconstruction_loss(a, b, LossReduce::Sample).item() == doctest::Approx(total / 3).epsilon(1e-6));
  // Logits [N, C]: both reductions are the sum / N.
  Tensor x = test::rand32({4, 7}, 3), y = test::rand32({4, 7}, 4);
  CHECK(reconstruction_loss(x, y, LossReduce::Channel).item() ==
        doctest::Approx(reconstruction_loss(x, y, LossReduce::Sample).item()).epsilon(1e-6));
}

TEST_CASE("quant loss: AdaRound's beta follows LinearTempDecay with count = iteration + 1") {
  QuantConfig c;
  c.warmup = 0.2, c.beta_start = 20, c.beta_end = 2;
  const int64_t iters = 100;
  // Official: count < 20 -> no regularizer; b = 2 + 18 * max(0, 1 - (count - 20) / 80).
  for (int64_t it : {0, 18, 19, 20, 59, 99}) {
    CAPTURE(it);
    const double count = double(it + 1);
    const double want = count < 20 ? 0.0 : 2 + 18 * std::max(0.0, 1 - (count - 20) / 80);
    CHECK(adaround_beta(c, it, iters) == doctest::Approx(want));
  }
  CHECK(adaround_beta(c, 18, iters) == 0);   // count 19 < 20
  CHECK(adaround_beta(c, 19, iters) == 20);  // count 20: the regularizer starts at beta_start
  CHECK(adaround_beta(c, 99, iters) == doctest::Approx(2 + 18 * (1 - 80.0 / 80)));
}
