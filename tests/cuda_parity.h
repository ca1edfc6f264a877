// CPU/CUDA parity checks shared by the cuda test suites: run an op on CPU copies and on CUDA
// copies of the same inputs, then backward with the same upstream gradient, and compare.
#pragma once
#include <doctest/doctest.h>

#include <functional>
#include <vector>

#include "autograd/engine.h"
#include "tests/helpers.h"

namespace nwq::test {

using OpFn = std::function<Tensor(const std::vector<Tensor>&)>;

struct Tolerance {
  double fwd_rtol, fwd_atol, bwd_rtol, bwd_atol;
};

// Device result vs CPU result: bitwise when both tolerances are 0, else CHECK_CLOSE.
inline void check_match(const Tensor& dev, const Tensor& cpu, double rtol, double atol) {
  if (rtol == 0 && atol == 0)
    CHECK(same_bytes(dev, cpu));
  else
    CHECK_CLOSE(dev, cpu, rtol, atol);
}

// f on CPU copies and on CUDA copies of `inputs` (undefined stay undefined; those flagged in
// `grad` require grad), then backward with the same random upstream gradient on both devices;
// compares outputs and every requested input gradient.
inline void check_parity(const OpFn& f, const std::vector<Tensor>& inputs,
                         const std::vector<bool>& grad, Tolerance tol) {
  std::vector<Tensor> cpu(inputs.size()), gpu(inputs.size());
  bool any_grad = false;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) continue;
    cpu[i] = inputs[i].clone();
    gpu[i] = inputs[i].to(Device::cuda());
    if (grad[i]) {
      cpu[i].set_requires_grad(true);
      gpu[i].set_requires_grad(true);
      any_grad = true;
    }
  }
  Tensor yc = f(cpu), yg = f(gpu);
  REQUIRE(yg.device() == Device::cuda());
  REQUIRE(yg.sizes() == yc.sizes());
  check_match(yg, yc, tol.fwd_rtol, tol.fwd_atol);
  if (!any_grad) return;
  Tensor gy = rand32(yc.sizes(), 99);
  backward(yc, gy);
  backward(yg, gy.to(Device::cuda()));
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined() || !grad[i]) continue;
    INFO("gradient of input ", i);
    REQUIRE(gpu[i].grad().defined());
    CHECK(gpu[i].grad().device() == Device::cuda());
    check_match(gpu[i].grad(), cpu[i].grad(), tol.bwd_rtol, tol.bwd_atol);
  }
}

}  // namespace nwq::test
