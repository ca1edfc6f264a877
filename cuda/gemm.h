// Row-major cuBLAS sgemm for the CUDA kernels (linear, conv2d): C = alpha op(A) op(B) + beta C
// on the default stream, with the handle's math mode (TF32 only when set_tf32(true)). cuBLAS is
// column-major, so the product is computed as C^T = op(B)^T op(A)^T with the operands swapped.
#pragma once
#include <cstdint>

#include "ops/linear.h"

namespace nwq {

// One product per batch entry i: A + i * stride_a, B + i * stride_b, C + i * stride_c (a stride of
// 0 shares the operand). batch == 1 is a plain sgemm. m, n or k of 0 and batch 0 are handled.
void cuda_gemm_rm(const GemmParams& p, const float* a, const float* b, float* c, int batch = 1,
                  int64_t stride_a = 0, int64_t stride_b = 0, int64_t stride_c = 0);

}  // namespace nwq
