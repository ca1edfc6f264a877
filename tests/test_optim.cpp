// Optimizers against torch.optim goldens (tests/golden/optim.safetensors) and LR schedules
// against their closed forms.
#include <doctest/doctest.h>

#include <cmath>

#include "core/tensor_io.h"
#include "optim/lr_schedule.h"
#include "optim/optimizer.h"
#include "tests/helpers.h"

using namespace nwq;

static void check_against_torch(const std::string& name,
                                const std::function<std::unique_ptr<Optimizer>(Tensor)>& make) {
  TensorFile golden = load_safetensors(test::golden_path("optim.safetensors"));
  Tensor p = golden.at("p0").clone().set_requires_grad(true);
  Tensor grads = golden.at("grads");
  Tensor expected = golden.at(name);
  std::unique_ptr<Optimizer> opt = make(p);
  for (int64_t k = 0; k < grads.size(0); ++k) {
    p.set_grad(grads.slice(0, k, k + 1).contiguous().view({-1}).clone());
    opt->step();
    INFO(name, " step ", k);
    CHECK_CLOSE(p, expected.slice(0, k, k + 1).contiguous().view({-1}), 1e-12, 1e-12);
  }
}

TEST_CASE("optim: SGD variants match torch.optim.SGD") {
  check_against_torch("sgd", [](Tensor p) {
    return std::make_unique<Sgd>(std::vector<Tensor>{p}, SgdOptions{0.1, 0.9, 0.01, false});
  });
  check_against_torch("nesterov", [](Tensor p) {
    return std::make_unique<Sgd>(std::vector<Tensor>{p}, SgdOptions{0.1, 0.9, 0.01, true});
  });
  check_against_torch("plain_sgd", [](Tensor p) {
    return std::make_unique<Sgd>(std::vector<Tensor>{p}, SgdOptions{0.05, 0.0, 0.0, false});
  });
}

TEST_CASE("optim: Adam and AdamW match torch.optim") {
  check_against_torch("adam", [](Tensor p) {
    AdamOptions o;
    o.lr = 0.01;
    o.weight_decay = 0.01;
    return std::make_unique<Adam>(std::vector<Tensor>{p}, o);
  });
  check_against_torch("adamw", [](Tensor p) {
    AdamOptions o;
    o.lr = 0.01;
    o.weight_decay = 0.1;
    o.decoupled = true;
    return std::make_unique<Adam>(std::vector<Tensor>{p}, o);
  });
}

TEST_CASE("optim: parameters without a gradient are left alone; nesterov needs momentum") {
  Tensor p = test::tensor({1, 2}, {2}).set_requires_grad(true);
  Sgd sgd({p}, SgdOptions{0.1, 0.9, 0.0, false});
  sgd.step();
  CHECK(p.to_vector<double>() == std::vector<double>{1, 2});
  CHECK_THROWS_WITH_AS(Sgd({p}, SgdOptions{0.1, 0.0, 0.0, true}), doctest::Contains("nesterov"),
                       Error);
}

TEST_CASE("lr schedule: warm-up, cosine, linear and step decay") {
  LrSchedule cos = make_schedule("cosine", 0.1, 110, 10);
  CHECK(cos.at(0) == doctest::Approx(0.01));
  CHECK(cos.at(9) == doctest::Approx(0.1));
  CHECK(cos.at(10) == doctest::Approx(0.1));
  CHECK(cos.at(60) == doctest::Approx(0.05));
  CHECK(cos.at(110) == doctest::Approx(0.0));
  LrSchedule lin = make_schedule("linear", 1.0, 100, 0);
  CHECK(lin.at(25) == doctest::Approx(0.75));
  LrSchedule step = make_schedule("step:30:0.1", 1.0, 100, 0);
  CHECK(step.at(29) == doctest::Approx(1.0));
  CHECK(step.at(30) == doctest::Approx(0.1));
  CHECK(step.at(65) == doctest::Approx(0.01));
  CHECK_THROWS_WITH_AS(make_schedule("exp", 1.0, 10, 0, "--lr-schedule"),
                       doctest::Contains("--lr-schedule"), Error);
  CHECK_THROWS_WITH_AS(make_schedule("step:x:0.1", 1.0, 10, 0), doctest::Contains("step:SIZE"),
                       Error);
}
