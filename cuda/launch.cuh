// Launch helper shared by elementwise kernels: a grid-stride loop over n elements, 256 threads a
// block, the grid sized from n (capped; the loop covers the rest). Kernels are functors with
// `__device__ void operator()(int64_t i) const` so no extended-lambda flag is needed.
#pragma once
#include <cstdint>

#include "cuda/cuda_check.h"

namespace nwq {

constexpr int kBlockSize = 256;
constexpr int64_t kMaxGrid = 65535 * 8;  // beyond this the grid-stride loop does the work

inline unsigned grid_for(int64_t n) {
  int64_t blocks = (n + kBlockSize - 1) / kBlockSize;
  return static_cast<unsigned>(blocks < kMaxGrid ? (blocks > 0 ? blocks : 1) : kMaxGrid);
}

template <class F>
__global__ void elementwise_kernel(int64_t n, F f) {
  int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    f(i);
  }
}

// Throws naming `kernel` when the last launch failed (bad configuration, sticky device error).
inline void check_launch(const char* kernel) {
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) {
    throw Error(str("CUDA error: launching ", kernel, ": ", cudaGetErrorString(err)));
  }
}

// Runs f(i) for every i in [0, n) on the default stream; n <= 0 launches nothing.
template <class F>
void launch_elementwise(const char* kernel, int64_t n, const F& f) {
  if (n <= 0) return;
  elementwise_kernel<<<grid_for(n), kBlockSize>>>(n, f);
  check_launch(kernel);
}

}  // namespace nwq
