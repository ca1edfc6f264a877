// CUDA twins of ops/activation.cpp: the clamped-linear pair behind relu (hi = +inf) and relu6.
// x, y, gy, gx: n floats. Backward assigns gx (does not accumulate); gradient 0 at the kinks.
#include "cuda/launch.cuh"

namespace nwq {

struct ClampForwardOp {
  const float* x;
  float* y;
  float lo, hi;
  __device__ void operator()(int64_t i) const {
    float v = x[i];
    y[i] = v < lo ? lo : (v > hi ? hi : v);  // NaN passes through, as on the CPU
  }
};

struct ClampBackwardOp {
  const float* x;
  const float* gy;
  float* gx;
  float lo, hi;
  __device__ void operator()(int64_t i) const {
    float v = x[i];
    gx[i] = (v > lo && v < hi) ? gy[i] : 0.0f;
  }
};

void relu_forward_cuda(const float* x, float* y, int64_t n, float lo, float hi) {
  launch_elementwise("relu_forward", n, ClampForwardOp{x, y, lo, hi});
}

void relu_backward_cuda(const float* x, const float* gy, float* gx, int64_t n, float lo, float hi) {
  launch_elementwise("relu_backward", n, ClampBackwardOp{x, gy, gx, lo, hi});
}

}  // namespace nwq
