// The CUDA twin of ops/soft_round_weight.h's dequantization, shared by cuda/adaround.cu and
// cuda/asoftmax.cu: w_q = s * (clamp(w_floor + r + z, qmin, qmax) - z), NaN for a bad scale.
#pragma once
#include <cstdint>

namespace nwq {

// The output channel of element j of a weight viewed as [channels, inner].
static __device__ __forceinline__ int64_t soft_weight_channel(int64_t j, int64_t channels,
                                                              int64_t inner) {
  return channels == 1 ? 0 : j / inner;
}

// One soft weight; a scale that is not positive gives NaN (no device sync to throw: the CPU
// throws instead, ops/soft_round_weight.cpp).
static __device__ __forceinline__ float soft_dequantize(float w_floor, float r, float z, float s,
                                                        float qmin, float qmax) {
  float t = w_floor + r + z;
  t = t < qmin ? qmin : (t > qmax ? qmax : t);
  return s > 0.0f ? s * (t - z) : __int_as_float(0x7fc00000);
}

// True where the grid clamp of soft_dequantize is inactive, so r receives a gradient.
static __device__ __forceinline__ bool soft_inside_grid(float w_floor, float r, float z,
                                                        float qmin, float qmax) {
  const float t = w_floor + r + z;
  return t >= qmin && t <= qmax;
}

}  // namespace nwq
