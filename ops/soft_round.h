// Soft rounding of weights: AdaRound's rectified sigmoid (Nagel et al. 2020) and NWQ's
// annealed-softmax rounding over candidates n..m (Wang et al. 2022), their initialisation and
// hardening. All take w_floor = floor(w / s), computed once by the caller
// (docs/DESIGN.md section 7).
#pragma once
#include <cstdint>

#include "ops/dispatch.h"

namespace nwq {

// ---- AdaRound ----
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
// outputs are NaN. The same holds for asoftmax_soft_weight.
Tensor adaround_soft_weight(const Tensor& w_floor, const Tensor& v, const Tensor& scale,
                            const Tensor& zero_point, int64_t qmin, int64_t qmax, double zeta = 1.1,
                            double gamma = -0.1);
// The hardened rounding offset: 1 where V >= 0, else 0 (w_floor's dtype, v's shape).
Tensor hard_round_adaround(const Tensor& v);

// ---- ASoftmax (NWQ) ----
// v: [K, ...w_floor.shape], logits of the candidates k = n .. n + K - 1 for every weight.
// r = sum_k k * softmax_k(V / tau) (softmax over dim 0, per weight element, max-subtracted);
// w_q = s * (clamp(w_floor + r + z, qmin, qmax) - z), s and z per output channel (axis 0 of w).
// Gradient to V only; zero where the grid clamp is active.
Tensor asoftmax_soft_weight(const Tensor& w_floor, const Tensor& v, int64_t n, double tau,
                            const Tensor& scale, const Tensor& zero_point, int64_t qmin,
                            int64_t qmax);
// Initial logits V [m - n + 1, ...frac.shape] for frac = w/s - floor(w/s) in [0, 1], such that
// at tau = 1 sum_k k * softmax_k(V) = frac (needs n <= 0 < 1 <= m). V = log(p), where p gives
// every candidate a floor of 1e-4 and puts the remaining mass on the two neighbouring candidates
// around the mean that makes the total mean frac (computed in double). The mean is exact except
// within ~1e-4 of frac = 0 or 1, where the floor makes it impossible (error <= 1e-4 * max|k|).
// Not differentiable.
Tensor asoftmax_init_logits(const Tensor& frac, int64_t n, int64_t m);
// The hardened rounding offset: n + argmax_k V_k (the first maximum), shape v.shape[1:].
Tensor hard_round_asoftmax(const Tensor& v, int64_t n);

constexpr double kASoftmaxInitFloor = 1e-4;  // the probability floor of asoftmax_init_logits

// ================================ kernels ================================
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

struct ASoftmaxParams {
  int64_t channels, inner;  // the weight viewed as [channels, inner]; N = channels * inner
  int64_t n, k;             // candidates n .. n + k - 1
  double inv_tau;           // 1 / tau
  double qmin, qmax;
};
// w_floor, y, gy: N elements; v, gv: [k, N] (candidate-major); scale, zero_point: channels.
template <class T>
using ASoftmaxFwdFn = void (*)(const T* w_floor, const T* v, const T* scale, const T* zero_point,
                               T* y, ASoftmaxParams p);
template <class T>
using ASoftmaxBwdFn = void (*)(const T* w_floor, const T* v, const T* scale, const T* zero_point,
                               const T* gy, T* gv, ASoftmaxParams p);
// init: frac [N] -> v [k, N]; hard: v [k, N] -> r [N] (inv_tau, qmin, qmax unused; channels = 1,
// inner = N).
template <class T>
using ASoftmaxInitFn = void (*)(const T* frac, T* v, ASoftmaxParams p);
template <class T>
using HardRoundASoftmaxFn = void (*)(const T* v, T* r, ASoftmaxParams p);

extern KernelSlot<ASoftmaxFwdFn> asoftmax_forward_kernel;
extern KernelSlot<ASoftmaxBwdFn> asoftmax_backward_kernel;
extern KernelSlot<ASoftmaxInitFn> asoftmax_init_kernel;
extern KernelSlot<HardRoundASoftmaxFn> hard_round_asoftmax_kernel;

}  // namespace nwq
