// Deterministic sums and maxima inside a warp or a thread block: fixed shuffle trees, so a result
// depends only on the values and the block size, never on timing. Shared by the reduce, loss and
// batch_norm kernels. Every thread of the warp / block must call these (they synchronize).
#pragma once
#include "cuda/launch.cuh"

namespace nwq {

// Butterfly all-reduce over the 32 lanes of a warp; every lane gets the same bits (a + b == b + a
// in IEEE arithmetic, and each level pairs the same lanes).
template <class T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

template <class T>
__device__ __forceinline__ T warp_max(T v) {
  for (int offset = 16; offset > 0; offset >>= 1) {
    T other = __shfl_xor_sync(0xffffffffu, v, offset);
    v = other > v ? other : v;
  }
  return v;
}

// Sum of v over the block (blockDim.x a multiple of 32, at most 1024), returned to every thread.
// `scratch` holds 32 values in shared memory; it may be reused right after the call.
template <class T>
__device__ T block_sum(T v, T* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_sum(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  T total = lane < static_cast<int>(blockDim.x >> 5) ? scratch[lane] : T(0);
  total = warp_sum(total);
  __syncthreads();  // everyone has read scratch before it is written again
  return total;
}

template <class T>
__device__ T block_max(T v, T* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_max(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  T total = lane < static_cast<int>(blockDim.x >> 5) ? scratch[lane] : scratch[0];
  total = warp_max(total);
  __syncthreads();
  return total;
}

}  // namespace nwq
