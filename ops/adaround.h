// AdaRound's soft rounding of weights (Nagel et al. 2020): the rectified sigmoid h(V), its
// regularizer, the soft weight and the hardening. The twin family is ops/asoftmax.h.
// Every op takes w_floor = floor(w / s), computed once by the caller (docs/DESIGN.md section 7).
#pragma once
#include <cstdint>

#include "ops/dispatch.h"

namespace nwq {

// h(V) = clamp(sigmoid(V) * (zeta - gamma) + gamma, 0, 1); differentiable in V (zero gradient
// where the clamp is active).
Tensor adaround_h(const Tensor& v, double zeta = 1.1, double gamma = -0.1);
// Sum over elements of 1 - |2 h(V) - 1|^beta: a scalar, differentiable in V. beta >= 1.
Tensor adaround_regularizer(const Tensor& v, double beta, double zeta = 1.1, double gamma = -0.1);
// w_q = s * (clamp(w_floor + h(V) + z, qmin, qmax) - z) with scale s and zero_point z per output
// channel (axis 0: scale has w_floor.size(0) elements; zero_point likewise, or undefined = 0).
// v has w_floor's shape. Gradient to V only (the scale is frozen here); it is zero where h or the
// grid clamp is active (the grid clamp passes where qmin <= w_floor + h + z <= qmax).
// A non-positive scale throws on the CPU; on CUDA (no device sync per call) its channel's
// outputs are NaN (ops/soft_round_weight.h).
Tensor adaround_soft_weight(const Tensor& w_floor, const Tensor& v, const Tensor& scale,
                            const Tensor& zero_point, int64_t qmin, int64_t qmax, double zeta = 1.1,
                            double gamma = -0.1);
// The hardened rounding offset: 1 where V >= 0, else 0 (w_floor's dtype, v's shape).
Tensor hard_round_adaround(const Tensor& v);

// ================================ kernels
// Weights are viewed as [channels, inner] (channel = axis 0); zero_point may be null (0).
// Every kernel assigns its outputs.

struct AdaRoundParams {
  int64_t channels, inner;  // channels = 1 and inner = numel for the per-element kernels
  double qmin, qmax;
  double zeta, gamma;
  double beta;  // regularizer only
};
// w_floor, v, y, gy, gv: channels * inner elements; scale, zero_point: channels.
template <class T>
using AdaRoundFwdFn = void (*)(const T* w_floor, const T* v, const T* scale, const T* zero_point,
                               T* y, AdaRoundParams p);
template <class T>
using AdaRoundBwdFn = void (*)(const T* w_floor, const T* v, const T* scale, const T* zero_point,
                               const T* gy, T* gv, AdaRoundParams p);
// Elementwise on channels * inner elements: h = h(v); gv = gh * dh/dv.
template <class T>
using AdaRoundHFwdFn = void (*)(const T* v, T* h, AdaRoundParams p);
template <class T>
using AdaRoundHBwdFn = void (*)(const T* v, const T* gh, T* gv, AdaRoundParams p);
// out: one element, the regularizer summed in double in a fixed order; g: one element (the
// upstream gradient), gv = g * d(term)/dv elementwise.
template <class T>
using AdaRoundRegFwdFn = void (*)(const T* v, T* out, AdaRoundParams p);
template <class T>
using AdaRoundRegBwdFn = void (*)(const T* v, const T* g, T* gv, AdaRoundParams p);
// r = v >= 0 ? 1 : 0, n elements.
template <class T>
using HardRoundAdaRoundFn = void (*)(const T* v, T* r, int64_t n);

extern KernelSlot<AdaRoundFwdFn> adaround_forward_kernel;
extern KernelSlot<AdaRoundBwdFn> adaround_backward_kernel;
extern KernelSlot<AdaRoundHFwdFn> adaround_h_forward_kernel;
extern KernelSlot<AdaRoundHBwdFn> adaround_h_backward_kernel;
extern KernelSlot<AdaRoundRegFwdFn> adaround_reg_forward_kernel;
extern KernelSlot<AdaRoundRegBwdFn> adaround_reg_backward_kernel;
extern KernelSlot<HardRoundAdaRoundFn> hard_round_adaround_kernel;

}  // namespace nwq
