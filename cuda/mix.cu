// CUDA twins of ops/mix.cpp: QDrop's element-wise choice (the mask recomputed from the key and
// the index, bit-identical to the CPU's qdrop_draw) and AMixup's weighted sum, with backwards.
#include "cuda/launch.cuh"
#include "ops/mix.h"

namespace nwq {

// Twin of qdrop_draw (ops/mix.h): splitmix64's output number i + 1 from state `key`, upper bits.
__device__ __forceinline__ bool takes_fp(const QDropParams& p, int64_t i) {
  uint64_t z = p.key + (static_cast<uint64_t>(i) + 1) * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return ((z ^ (z >> 31)) >> 32) < p.threshold;
}

struct QDropForwardOp {
  const float *x_q, *x_fp;
  float* y;
  QDropParams p;
  __device__ void operator()(int64_t i) const { y[i] = takes_fp(p, i) ? x_fp[i] : x_q[i]; }
};

struct QDropBackwardOp {
  const float* gy;
  float *g_q, *g_fp;
  QDropParams p;
  __device__ void operator()(int64_t i) const {
    const bool fp = takes_fp(p, i);
    if (g_q) g_q[i] = fp ? 0.0f : gy[i];
    if (g_fp) g_fp[i] = fp ? gy[i] : 0.0f;
  }
};

struct MixForwardOp {
  const float *a, *b;
  float* y;
  float wa, wb;
  __device__ void operator()(int64_t i) const { y[i] = wa * a[i] + wb * b[i]; }
};

struct MixBackwardOp {
  const float* gy;
  float *ga, *gb;
  float wa, wb;
  __device__ void operator()(int64_t i) const {
    if (ga) ga[i] = wa * gy[i];
    if (gb) gb[i] = wb * gy[i];
  }
};

void qdrop_forward_cuda(const float* x_q, const float* x_fp, float* y, QDropParams p) {
  launch_elementwise("qdrop_forward", p.n, QDropForwardOp{x_q, x_fp, y, p});
}

void qdrop_backward_cuda(const float* gy, float* g_q, float* g_fp, QDropParams p) {
  launch_elementwise("qdrop_backward", p.n, QDropBackwardOp{gy, g_q, g_fp, p});
}

void mix_forward_cuda(const float* a, const float* b, float* y, MixParams p) {
  launch_elementwise("mix_forward", p.n, MixForwardOp{a, b, y, float(p.wa), float(p.wb)});
}

void mix_backward_cuda(const float* gy, float* ga, float* gb, MixParams p) {
  launch_elementwise("mix_backward", p.n, MixBackwardOp{gy, ga, gb, float(p.wa), float(p.wb)});
}

}  // namespace nwq
