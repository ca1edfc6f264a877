// CUDA twins of ops/adaround.cpp: AdaRound's rectified sigmoid, regularizer, soft weight and
// hardening. Elementwise over the weight except the regularizer's sum: fixed slices reduced in
// double, then added in slice order.
#include <algorithm>
#include <cmath>

#include "core/tensor.h"
#include "cuda/block_reduce.cuh"
#include "cuda/soft_round_weight.cuh"
#include "ops/adaround.h"

namespace nwq {

constexpr int kRegThreads = 256;
constexpr int64_t kRegSlice = 32 * kRegThreads;  // elements per block of the regularizer sum

// ---------------------------------------------------------------- AdaRound

// h(v) and dh/dv (0 where the clamp is active).
static __device__ __forceinline__ float rectified_sigmoid(float v, const AdaRoundParams& p,
                                                          float& dh) {
  const float zeta = float(p.zeta), gamma = float(p.gamma);
  const float sg = 1.0f / (1.0f + expf(-v));
  const float raw = sg * (zeta - gamma) + gamma;
  dh = (raw >= 0.0f && raw <= 1.0f) ? sg * (1.0f - sg) * (zeta - gamma) : 0.0f;
  return raw < 0.0f ? 0.0f : (raw > 1.0f ? 1.0f : raw);
}

static __device__ __forceinline__ double regularizer_term(float v, const AdaRoundParams& p,
                                                          double& dterm) {
  float dh;
  const double u = 2.0 * double(rectified_sigmoid(v, p, dh)) - 1.0, au = fabs(u);
  dterm = au == 0.0 ? 0.0 : -p.beta * pow(au, p.beta - 1.0) * (u > 0 ? 2.0 : -2.0) * dh;
  return 1.0 - pow(au, p.beta);
}

struct AdaRoundForwardOp {
  const float *w_floor, *v, *scale, *zero_point;
  float* y;
  AdaRoundParams p;
  __device__ void operator()(int64_t j) const {
    const int64_t c = soft_weight_channel(j, p.channels, p.inner);
    const float z = zero_point ? zero_point[c] : 0.0f, qmin = float(p.qmin), qmax = float(p.qmax);
    float dh;
    const float r = rectified_sigmoid(v[j], p, dh);
    y[j] = soft_dequantize(w_floor[j], r, z, scale[c], qmin, qmax);
  }
};

struct AdaRoundBackwardOp {
  const float *w_floor, *v, *scale, *zero_point, *gy;
  float* gv;
  AdaRoundParams p;
  __device__ void operator()(int64_t j) const {
    const int64_t c = soft_weight_channel(j, p.channels, p.inner);
    const float z = zero_point ? zero_point[c] : 0.0f;
    float dh;
    const float r = rectified_sigmoid(v[j], p, dh);
    const bool inside = soft_inside_grid(w_floor[j], r, z, float(p.qmin), float(p.qmax));
    gv[j] = inside ? gy[j] * scale[c] * dh : 0.0f;
  }
};

struct AdaRoundHOp {
  const float *v, *gh;  // gh null: forward (writes h to out), else backward (gv to out)
  float* out;
  AdaRoundParams p;
  __device__ void operator()(int64_t j) const {
    float dh;
    const float h = rectified_sigmoid(v[j], p, dh);
    out[j] = gh ? gh[j] * dh : h;
  }
};

struct AdaRoundRegBackwardOp {
  const float *v, *g;
  float* gv;
  AdaRoundParams p;
  __device__ void operator()(int64_t j) const {
    double dterm;
    regularizer_term(v[j], p, dterm);
    gv[j] = static_cast<float>(double(g[0]) * dterm);
  }
};

struct HardRoundAdaRoundOp {
  const float* v;
  float* r;
  __device__ void operator()(int64_t j) const { r[j] = v[j] >= 0.0f ? 1.0f : 0.0f; }
};

// Block b sums the regularizer over elements [b * kRegSlice, (b + 1) * kRegSlice) into
// partial[b], or, with one block, writes out[0].
__global__ void adaround_reg_slices_kernel(const float* v, float* out, double* partial,
                                           AdaRoundParams p) {
  __shared__ double scratch[32];
  const int64_t n = p.channels * p.inner;
  const int64_t end = min(n, (int64_t(blockIdx.x) + 1) * kRegSlice);
  double acc = 0, unused;
  for (int64_t j = int64_t(blockIdx.x) * kRegSlice + threadIdx.x; j < end; j += blockDim.x) {
    acc += regularizer_term(v[j], p, unused);
  }
  acc = block_sum(acc, scratch);
  if (threadIdx.x != 0) return;
  if (gridDim.x == 1) out[0] = static_cast<float>(acc);
  else partial[blockIdx.x] = acc;
}

__global__ void adaround_reg_finish_kernel(const double* partial, float* out, int64_t slices) {
  __shared__ double scratch[32];
  double acc = 0;
  for (int64_t s = threadIdx.x; s < slices; s += blockDim.x) acc += partial[s];
  acc = block_sum(acc, scratch);
  if (threadIdx.x == 0) out[0] = static_cast<float>(acc);
}

void adaround_forward_cuda(const float* w_floor, const float* v, const float* scale,
                           const float* zero_point, float* y, AdaRoundParams p) {
  launch_elementwise("adaround_forward", p.channels * p.inner,
                     AdaRoundForwardOp{w_floor, v, scale, zero_point, y, p});
}

void adaround_backward_cuda(const float* w_floor, const float* v, const float* scale,
                            const float* zero_point, const float* gy, float* gv, AdaRoundParams p) {
  launch_elementwise("adaround_backward", p.channels * p.inner,
                     AdaRoundBackwardOp{w_floor, v, scale, zero_point, gy, gv, p});
}

void adaround_h_forward_cuda(const float* v, float* h, AdaRoundParams p) {
  launch_elementwise("adaround_h_forward", p.channels * p.inner, AdaRoundHOp{v, nullptr, h, p});
}

void adaround_h_backward_cuda(const float* v, const float* gh, float* gv, AdaRoundParams p) {
  launch_elementwise("adaround_h_backward", p.channels * p.inner, AdaRoundHOp{v, gh, gv, p});
}

void adaround_reg_forward_cuda(const float* v, float* out, AdaRoundParams p) {
  const int64_t n = p.channels * p.inner;
  const int64_t slices = std::max<int64_t>(1, (n + kRegSlice - 1) / kRegSlice);
  NWQ_CHECK(slices < (int64_t(1) << 31), "adaround_regularizer: ", n, " elements exceed the grid");
  Tensor partial;
  if (slices > 1) partial = Tensor::empty({slices}, DType::F64, Device::cuda());
  adaround_reg_slices_kernel<<<unsigned(slices), kRegThreads>>>(
      v, out, slices > 1 ? partial.data<double>() : nullptr, p);
  check_launch("adaround_reg_forward (slices)");
  if (slices == 1) return;
  adaround_reg_finish_kernel<<<1, kRegThreads>>>(partial.data<double>(), out, slices);
  check_launch("adaround_reg_forward (finish)");
}

void adaround_reg_backward_cuda(const float* v, const float* g, float* gv, AdaRoundParams p) {
  launch_elementwise("adaround_reg_backward", p.channels * p.inner,
                     AdaRoundRegBackwardOp{v, g, gv, p});
}

void hard_round_adaround_cuda(const float* v, float* r, int64_t n) {
  launch_elementwise("hard_round_adaround", n, HardRoundAdaRoundOp{v, r});
}

}  // namespace nwq
