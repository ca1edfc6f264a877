// The reconstruction loss reductions (BRECQ/QDrop's lp_loss vs per-sample sums) and AdaRound's
// beta schedule counted as BRECQ/QDrop's LossFunction counts.
#include <doctest/doctest.h>

#include <cmath>

#include "core/json.h"
#include "quant/config.h"
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

TEST_CASE("quant loss: p = 2.4 is BRECQ's lp_loss (|a - b|^p summed over dim 1, mean over the rest)") {
  Tensor a = test::rand32({3, 4, 5, 2}, 5), b = test::rand32({3, 4, 5, 2}, 6);
  std::vector<float> av = a.to_vector<float>(), bv = b.to_vector<float>();
  double total = 0;
  for (size_t i = 0; i < av.size(); ++i) total += std::pow(std::fabs(double(av[i]) - double(bv[i])), 2.4);
  CHECK(reconstruction_loss(a, b, LossReduce::Channel, 2.4).item() ==
        doctest::Approx(total / (3 * 5 * 2)).epsilon(1e-5));
  CHECK(reconstruction_loss(a, b, LossReduce::Sample, 2.4).item() ==
        doctest::Approx(total / 3).epsilon(1e-5));
  // p = 2 through the general path would give the same value as the squared error.
  CHECK(reconstruction_loss(a, b, LossReduce::Channel, 2.0).item() ==
        doctest::Approx(reconstruction_loss(a, b, LossReduce::Channel).item()).epsilon(1e-7));
  // Gradients of the |.|^2.4 loss against central differences (F64).
  Tensor x = test::random({2, 3, 2, 2}, 7), y = test::random({2, 3, 2, 2}, 8);
  CHECK(test::gradcheck([](const std::vector<Tensor>& in) {
          return reconstruction_loss(in[0], in[1], LossReduce::Channel, 2.4);
        }, {x, y}) < 1);
}

TEST_CASE("quant config: BRECQ's step-pass exponent is 2.4, kept in the config JSON") {
  QuantConfig c = preset_config("brecq", "resnet20");
  CHECK(c.step_pass_lp == 2.4);
  CHECK(c.act_steps_afterwards);
  c.step_pass_lp = 3;
  CHECK(QuantConfig::from_json(c.to_json()).step_pass_lp == 3);
  // Files written before the field existed ran the step pass with the squared error.
  const Json now = c.to_json();
  Json old = Json::object();
  for (const auto& [key, value] : now.members())
    if (key != "step_pass_lp") old.set(key, value);
  CHECK(QuantConfig::from_json(old).step_pass_lp == 2.0);
  c.step_pass_lp = 0.5;
  CHECK_THROWS_WITH_AS(validate(c), doctest::Contains("step_pass_lp"), Error);
}
