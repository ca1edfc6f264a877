// Activation mixing during reconstruction (docs/DESIGN.md section 7): QDrop's element-wise drop of
// quantization (Wei et al. 2022) and NWQ's annealed mixup of FP and quantized block outputs.
// Evaluation never mixes: callers use these only while reconstructing.
#pragma once
#include <cstdint>

#include "ops/dispatch.h"

namespace nwq {

class Rng;

// Element-wise: x_fp with probability p, else x_q (same shape, device and dtype). The gradient
// flows to whichever was taken. The mask is not stored: one key is drawn from rng (one
// next_u64()), and element i takes x_fp when the upper 32 bits of the (i + 1)-th splitmix64
// output from state `key` are below round(p * 2^32) (qdrop_takes_fp below). CPU and CUDA compute
// the same mask, so the same rng state gives the same result on every device, and the backward
// recomputes it. p = 0 returns x_q itself without drawing.
Tensor qdrop(const Tensor& x_q, const Tensor& x_fp, double p, Rng& rng);

// fp_share * fp + (1 - fp_share) * q (same shape, device and dtype), fp_share in [0, 1];
// gradients to both (fp usually does not require one). fp_share = 0 returns q itself.
Tensor amixup(const Tensor& fp, const Tensor& q, double fp_share);

// ================================ kernels ================================

// Element i's draw: splitmix64's output number i + 1 from state `key` (core/rng.h), upper bits.
// The CUDA kernels use a twin of this function (cuda/mix.cu).
inline uint32_t qdrop_draw(uint64_t key, int64_t i) {
  uint64_t z = key + (static_cast<uint64_t>(i) + 1) * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return static_cast<uint32_t>((z ^ (z >> 31)) >> 32);
}

struct QDropParams {
  int64_t n;
  uint64_t key;
  uint64_t threshold;  // take x_fp where qdrop_draw(key, i) < threshold; 2^32 = always
};
inline bool qdrop_takes_fp(const QDropParams& p, int64_t i) {
  return qdrop_draw(p.key, i) < p.threshold;
}

// x_q, x_fp, y, gy, g_q, g_fp: n elements. Backward assigns g_q and g_fp; either may be null.
template <class T>
using QDropFwdFn = void (*)(const T* x_q, const T* x_fp, T* y, QDropParams p);
template <class T>
using QDropBwdFn = void (*)(const T* gy, T* g_q, T* g_fp, QDropParams p);
extern KernelSlot<QDropFwdFn> qdrop_forward_kernel;
extern KernelSlot<QDropBwdFn> qdrop_backward_kernel;

// y = wa * a + wb * b; backward ga = wa * gy, gb = wb * gy (assigned; either may be null).
// a, b, y, gy, ga, gb: n elements.
struct MixParams {
  int64_t n;
  double wa, wb;
};
template <class T>
using MixFwdFn = void (*)(const T* a, const T* b, T* y, MixParams p);
template <class T>
using MixBwdFn = void (*)(const T* gy, T* ga, T* gb, MixParams p);
extern KernelSlot<MixFwdFn> mix_forward_kernel;
extern KernelSlot<MixBwdFn> mix_backward_kernel;

}  // namespace nwq
