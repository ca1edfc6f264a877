// Pointwise activations: relu and relu6 (forward, backward, autograd wiring).
// relu6 is clamp(x, 0, 6), as in MobileNetV2.
#pragma once
#include "ops/dispatch.h"

namespace nwq {

Tensor relu(const Tensor& x);
Tensor relu6(const Tensor& x);

// Kernels. x, y, gy, gx: n elements. Backward assigns gx (does not accumulate).
template <class T> using ClampFwdFn = void (*)(const T* x, T* y, int64_t n, T lo, T hi);
template <class T>
using ClampBwdFn = void (*)(const T* x, const T* gy, T* gx, int64_t n, T lo, T hi);
extern KernelSlot<ClampFwdFn> relu_forward_kernel;   // covers relu (hi = +inf) and relu6
extern KernelSlot<ClampBwdFn> relu_backward_kernel;

}  // namespace nwq
