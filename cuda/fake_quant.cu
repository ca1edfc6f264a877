// CUDA twins of ops/fake_quant.cpp. Forward and the input gradient are elementwise; the LSQ
// scale gradient runs on a (channel, slice) grid: block (c, s) sums gy * dy/ds over slice s of
// channel c in double (fixed block tree), and a second pass adds each channel's slice partials
// in slice order. No atomics: the same shape gives the same bits on every run.
#include <algorithm>

#include "core/tensor.h"
#include "cuda/block_reduce.cuh"
#include "ops/fake_quant.h"

namespace nwq {

constexpr int kFqThreads = 256;
constexpr int64_t kFqSlice = 64 * kFqThreads;  // elements of one channel per block

// The grid of one channel; an invalid scale (<= 0 or NaN) makes every output NaN, as on the CPU.
struct DeviceGrid {
  float s, z, qmin, qmax;
  bool valid;

  __device__ DeviceGrid(const float* scale, const float* zero_point, int64_t c,
                        const FakeQuantParams& p)
      : s(scale[c]), z(zero_point ? zero_point[c] : 0.0f), qmin(float(p.qmin)),
        qmax(float(p.qmax)), valid(scale[c] > 0.0f) {}

  __device__ float forward(float x) const {
    if (!valid) return __int_as_float(0x7fc00000);
    float q = rintf(x / s) + z;  // rintf: half to even
    q = q < qmin ? qmin : (q > qmax ? qmax : q);
    return (q - z) * s;
  }

  __device__ float step_gradient(float x, bool& inside) const {
    inside = true;
    if (!valid) return __int_as_float(0x7fc00000);
    const float v = x / s, r = rintf(v);
    inside = false;
    if (r + z < qmin) return qmin - z;
    if (r + z > qmax) return qmax - z;
    inside = true;
    return r - v;
  }
};

__device__ __forceinline__ int64_t fq_channel(int64_t i, const FakeQuantParams& p) {
  return p.channels == 1 ? 0 : (i / p.inner) % p.channels;
}

struct FakeQuantForwardOp {
  const float *x, *scale, *zero_point;
  float* y;
  FakeQuantParams p;
  __device__ void operator()(int64_t i) const {
    y[i] = DeviceGrid(scale, zero_point, fq_channel(i, p), p).forward(x[i]);
  }
};

struct FakeQuantInputGradOp {
  const float *x, *scale, *zero_point, *gy;
  float* gx;
  FakeQuantParams p;
  __device__ void operator()(int64_t i) const {
    bool inside;
    DeviceGrid(scale, zero_point, fq_channel(i, p), p).step_gradient(x[i], inside);
    gx[i] = inside ? gy[i] : 0.0f;
  }
};

// Block b = (c, s), c = b / slices: slice s of channel c's outer * inner elements (o-major).
// Writes gx for them (when asked) and the slice's double sum of gy * dy/ds to partial[b], or,
// with one slice a channel, gscale[c] = grad_scale * sum.
__global__ void fq_backward_slices_kernel(const float* x, const float* scale,
                                          const float* zero_point, const float* gy, float* gx,
                                          float* gscale, double* partial, FakeQuantParams p,
                                          int64_t slices) {
  __shared__ double scratch[32];
  const int64_t c = blockIdx.x / slices, s = blockIdx.x % slices;
  const int64_t m = p.outer * p.inner;
  const int64_t end = min(m, (s + 1) * kFqSlice);
  const DeviceGrid grid(scale, zero_point, c, p);
  double acc = 0;
  for (int64_t j = s * kFqSlice + threadIdx.x; j < end; j += blockDim.x) {
    const int64_t o = p.outer == 1 ? 0 : j / p.inner, i = j - o * p.inner;
    const int64_t idx = (o * p.channels + c) * p.inner + i;
    bool inside;
    const float d = grid.step_gradient(x[idx], inside);
    if (gx) gx[idx] = inside ? gy[idx] : 0.0f;
    acc += static_cast<double>(gy[idx]) * static_cast<double>(d);
  }
  acc = block_sum(acc, scratch);
  if (threadIdx.x != 0) return;
  if (slices == 1) gscale[c] = static_cast<float>(acc * p.grad_scale);
  else partial[blockIdx.x] = acc;
}

// gscale[c] = grad_scale * sum over s of partial[c * slices + s]: block c, fixed tree.
__global__ void fq_finish_kernel(const double* partial, float* gscale, int64_t slices,
                                 double grad_scale) {
  __shared__ double scratch[32];
  const int64_t c = blockIdx.x;
  double acc = 0;
  for (int64_t s = threadIdx.x; s < slices; s += blockDim.x) acc += partial[c * slices + s];
  acc = block_sum(acc, scratch);
  if (threadIdx.x == 0) gscale[c] = static_cast<float>(acc * grad_scale);
}

void fake_quant_forward_cuda(const float* x, const float* scale, const float* zero_point, float* y,
                             FakeQuantParams p) {
  launch_elementwise("fake_quant_forward", p.outer * p.channels * p.inner,
                     FakeQuantForwardOp{x, scale, zero_point, y, p});
}

void fake_quant_backward_cuda(const float* x, const float* scale, const float* zero_point,
                              const float* gy, float* gx, float* gscale, FakeQuantParams p) {
  const int64_t n = p.outer * p.channels * p.inner;
  if (p.channels == 0) return;
  if (!gscale) {
    if (gx) {
      launch_elementwise("fake_quant_backward", n,
                         FakeQuantInputGradOp{x, scale, zero_point, gy, gx, p});
    }
    return;
  }
  const int64_t m = p.outer * p.inner;
  const int64_t slices = std::max<int64_t>(1, (m + kFqSlice - 1) / kFqSlice);
  NWQ_CHECK(p.channels * slices < (int64_t(1) << 31), "fake_quant_backward: ", p.channels,
            " channels of ", m, " elements exceed the CUDA grid");
  Tensor partial;
  if (slices > 1) partial = Tensor::empty({p.channels * slices}, DType::F64, Device::cuda());
  fq_backward_slices_kernel<<<unsigned(p.channels * slices), kFqThreads>>>(
      x, scale, zero_point, gy, gx, gscale, slices > 1 ? partial.data<double>() : nullptr, p,
      slices);
  check_launch("fake_quant_backward (slices)");
  if (slices == 1) return;
  fq_finish_kernel<<<unsigned(p.channels), kFqThreads>>>(partial.data<double>(), gscale, slices,
                                                         p.grad_scale);
  check_launch("fake_quant_backward (finish)");
}

}  // namespace nwq
