// Example: a new differentiable op written outside the library, the way every op in ops/ is
// written (docs/ARCHITECTURE.md, "An op, start to end"), then checked against finite differences.
//
// What it teaches, in the order of the file:
//   1. kernels: plain loops over raw pointers, templated on float/double;
//   2. registration: a KernelSlot holds one function pointer per device and dtype (CPU here;
//      a CUDA build would set .cuda_f32 from its own start-up code, never by static magic);
//   3. the differentiable function: check, make contiguous, allocate, call the slot, and when a
//      graph is being recorded attach a node whose backward returns the input's gradient;
//   4. the op composes with library ops, and its gradient passes a float64 check.
// The op: softplus(x) = log(1 + exp(x)), whose derivative is sigmoid(x).
// Run: build/examples/custom_op   (no arguments, well under a second)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "core/rng.h"
#include "ops/backend.h"
#include "ops/dispatch.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"

using namespace nwq;

// ---- 1. kernels. x, y, gy, gx: n contiguous elements; backward assigns gx. ----
template <class T>
void softplus_forward_cpu(const T* x, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i)  // log1p(exp(-|x|)) + max(x, 0): no overflow for large x
    y[i] = std::log1p(std::exp(-std::fabs(x[i]))) + std::max(x[i], T(0));
}

template <class T>
void softplus_backward_cpu(const T* x, const T* gy, T* gx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) gx[i] = gy[i] / (T(1) + std::exp(-x[i]));  // gy * sigmoid(x)
}

// ---- 2. registration: one slot per kernel, CPU float and double filled in. ----
template <class T> using SoftplusFwdFn = void (*)(const T* x, T* y, int64_t n);
template <class T> using SoftplusBwdFn = void (*)(const T* x, const T* gy, T* gx, int64_t n);
KernelSlot<SoftplusFwdFn> softplus_forward_kernel{"softplus_forward", softplus_forward_cpu<float>,
                                                  softplus_forward_cpu<double>};
KernelSlot<SoftplusBwdFn> softplus_backward_kernel{"softplus_backward",
                                                   softplus_backward_cpu<float>,
                                                   softplus_backward_cpu<double>};

// ---- 3. the differentiable function. ----
Tensor softplus(const Tensor& x_in) {
  Tensor x = x_in.contiguous();  // kernels read plain memory
  Tensor y = Tensor::empty(x.sizes(), x.dtype(), x.device());
  visit_float(x.dtype(), "softplus", [&](auto zero) {  // float or double, else a clear error
    using T = decltype(zero);
    softplus_forward_kernel.get<T>(x.device())(x.data<T>(), y.data<T>(), x.numel());
  });
  if (should_record({x_in})) {
    // Capture x.detach(): capturing x itself would make a cycle output -> node -> closure.
    record("softplus", {x_in}, y, [x = x.detach()](const Tensor& gy_in, const std::vector<bool>&) {
      Tensor gy = gy_in.contiguous();
      Tensor gx = Tensor::empty(x.sizes(), x.dtype(), x.device());
      visit_float(x.dtype(), "softplus backward", [&](auto zero) {
        using T = decltype(zero);
        softplus_backward_kernel.get<T>(x.device())(x.data<T>(), gy.data<T>(), gx.data<T>(),
                                                    x.numel());
      });
      return std::vector<Tensor>{gx};  // one gradient per recorded input
    });
  }
  return y;
}

// ---- 4. use it and check its gradient. ----
// A loss mixing the new op with library ops: mean(softplus(x) * x).
Tensor loss_of(const Tensor& x) { return mean(softplus(x) * x); }

int main() {
  init_backends();
  Rng rng(7);
  Tensor x = Tensor::normal({4, 5}, rng, 0.0, 3.0, DType::F64);  // wide: both tails of softplus
  x.set_requires_grad(true);
  Tensor loss = loss_of(x);
  backward(loss);
  const std::vector<double> v =
      softplus(Tensor::from_vector<double>({-30, 0, 30}, {3})).to_vector<double>();
  std::printf("softplus([-30, 0, 30]) = [%.3g, %.6f, %.6f]\n", v[0], v[1], v[2]);
  std::printf("loss = mean(softplus(x) * x) = %.8f, x %s\n", loss.item(), x.describe().c_str());

  // Central differences on every element of x (float64, no graph).
  NoGradGuard no_grad;
  const std::vector<double> analytic = x.grad().to_vector<double>();
  double* p = x.data<double>();
  double worst = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const double saved = p[i], h = 1e-6;
    p[i] = saved + h;
    const double up = loss_of(x).item();
    p[i] = saved - h;
    const double down = loss_of(x).item();
    p[i] = saved;
    worst = std::max(worst, std::fabs(analytic[i] - (up - down) / (2 * h)));
  }
  std::printf("gradient check over %lld elements: largest difference %.3g\n",
              (long long)x.numel(), worst);
  if (worst > 1e-7) {
    std::printf("gradient check FAILED\n");
    return 1;
  }
  std::printf("gradient check passed\n");
  return 0;
}
