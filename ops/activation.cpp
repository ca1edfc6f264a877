// relu and relu6 as one clamped-linear kernel pair: y = min(max(x, lo), hi).
// The gradient passes where lo < x < hi (zero at the kinks, as in PyTorch for relu at 0).
#include "ops/activation.h"

#include <limits>

#include "autograd/node.h"

namespace nwq {

template <class T>
static void clamp_forward_cpu(const T* x, T* y, int64_t n, T lo, T hi) {
  // Branch-free selects (vectorized); NaN passes through as in PyTorch.
#pragma omp parallel for if (n > 65536) firstprivate(lo, hi)
  for (int64_t i = 0; i < n; ++i) {
    T v = x[i];
    v = v < lo ? lo : v;
    y[i] = v > hi ? hi : v;
  }
}

template <class T>
static void clamp_backward_cpu(const T* x, const T* gy, T* gx, int64_t n, T lo, T hi) {
#pragma omp parallel for if (n > 65536) firstprivate(lo, hi)
  for (int64_t i = 0; i < n; ++i) {
    T v = x[i];
    gx[i] = (v > lo) & (v < hi) ? gy[i] : T(0);
  }
}

KernelSlot<ClampFwdFn> relu_forward_kernel{"relu_forward", clamp_forward_cpu<float>,
                                           clamp_forward_cpu<double>};
KernelSlot<ClampBwdFn> relu_backward_kernel{"relu_backward", clamp_backward_cpu<float>,
                                            clamp_backward_cpu<double>};

static Tensor clamped_linear(const char* name, const Tensor& x_in, double lo, double hi) {
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.sizes(), x.dtype(), x.device());
  visit_float(x.dtype(), name, [&](auto zero) {
    using T = decltype(zero);
    relu_forward_kernel.get<T>(x.device())(x.data<T>(), y.data<T>(), x.numel(), T(lo), T(hi));
  });
  if (should_record({x_in})) {  // record the caller's tensor: x may be a graph-less copy
    record(name, {x_in}, y, [x = x.detach(), name, lo, hi](const Tensor& gy_in, const std::vector<bool>&) {
      Tensor gy = gy_in.contiguous();
      Tensor gx = Tensor::empty(x.sizes(), x.dtype(), x.device());
      visit_float(x.dtype(), name, [&](auto zero) {
        using T = decltype(zero);
        relu_backward_kernel.get<T>(x.device())(x.data<T>(), gy.data<T>(), gx.data<T>(),
                                                x.numel(), T(lo), T(hi));
      });
      return std::vector<Tensor>{gx};
    });
  }
  return y;
}

Tensor relu(const Tensor& x) {
  return clamped_linear("relu", x, 0.0, std::numeric_limits<double>::infinity());
}

Tensor relu6(const Tensor& x) { return clamped_linear("relu6", x, 0.0, 6.0); }

}  // namespace nwq
