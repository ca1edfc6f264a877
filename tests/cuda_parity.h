// The one CPU/CUDA parity harness: run an op on CPU copies and on CUDA copies of the same inputs,
// backward with the same upstream gradient, compare; and the parity table of which slots it checks.
#pragma once
#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "tests/helpers.h"

namespace nwq::test {

using OpFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Per element, |dev - cpu| <= atol + atol_of_max * max|cpu| + rtol * |cpu|, with the first pair
// for the output and the second for every input gradient. atol_of_max is for GEMM-like sums,
// whose elements near 0 carry the rounding of much larger partial sums. All zero: the bytes of
// dev and cpu must be identical (NaN in the same places included).
struct Tolerance {
  double fwd_rtol, fwd_atol, bwd_rtol, bwd_atol;
  double atol_of_max = 0;  // relative to the largest |cpu| element, forward and backward
};

// Device result vs CPU result with one pair of tolerances (see Tolerance).
inline void check_match(const Tensor& dev, const Tensor& cpu, double rtol, double atol,
                        double atol_of_max) {
  CHECK(dev.device() == Device::cuda());
  if (rtol == 0 && atol == 0 && atol_of_max == 0) {
    CHECK(same_bytes(dev, cpu));
    return;
  }
  CHECK_CLOSE(dev, cpu, rtol, atol + atol_of_max * max_abs(cpu));
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
  {
    INFO("forward");
    check_match(yg, yc, tol.fwd_rtol, tol.fwd_atol, tol.atol_of_max);
  }
  if (!any_grad) return;
  Tensor gy = rand32(yc.sizes(), 99);
  backward(yc, gy);
  backward(yg, gy.to(Device::cuda()));
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined() || !grad[i]) continue;
    INFO("gradient of input ", i);
    REQUIRE(gpu[i].grad().defined());
    check_match(gpu[i].grad(), cpu[i].grad(), tol.bwd_rtol, tol.bwd_atol, tol.atol_of_max);
  }
}

// ---- the parity table ----
// Every parity test case names the kernel slots it runs on both devices. PARITY_CASE(title,
// "slot", ...) is a doctest TEST_CASE that also adds a row to the table, so a row always has its
// test. The `kernels` suite (tests/test_kernels.cpp, no GPU needed) fails when a slot of the
// registry has no row, or a row names a slot that does not exist.
struct ParityRow {
  std::string test_case;
  std::vector<std::string> slots;
};

inline std::vector<ParityRow>& parity_table() {
  static std::vector<ParityRow> rows;
  return rows;
}

inline bool add_parity_row(const char* test_case, std::vector<std::string> slots) {
  parity_table().push_back({test_case, std::move(slots)});
  return true;
}

}  // namespace nwq::test

#define PARITY_CASE(title, ...)                                                                  \
  static const bool DOCTEST_ANONYMOUS(nwq_parity_row_) =                                         \
      ::nwq::test::add_parity_row(title, {__VA_ARGS__});                                         \
  TEST_CASE(title)
