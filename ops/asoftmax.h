// NWQ's annealed-softmax (ASoftmax) rounding of weights (Wang et al. 2022): the soft weight over
// candidates n..m, the initial logits and the hardening. The twin family is ops/adaround.h.
// Every op takes w_floor = floor(w / s), computed once by the caller (docs/DESIGN.md section 7).
#pragma once
#include <cstdint>

#include "ops/dispatch.h"

namespace nwq {

// v: [K, ...w_floor.shape], logits of the candidates k = n .. n + K - 1 for every weight.
// r = sum_k k * softmax_k(V / tau) (softmax over dim 0, per weight element, max-subtracted);
// w_q = s * (clamp(w_floor + r + z, qmin, qmax) - z), s and z per output channel (axis 0 of w).
// Gradient to V only; zero where the grid clamp is active. A non-positive scale throws on the
// CPU and gives NaN outputs for its channel on CUDA (ops/soft_round_weight.h).
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

// ================================ kernels
// Weights are viewed as [channels, inner] (channel = axis 0); zero_point may be null (0).
// Every kernel assigns its outputs.

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
