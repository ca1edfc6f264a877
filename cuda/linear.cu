// CUDA twins of ops/linear.cpp: the row-major GEMM over cuBLAS (also used by cuda/conv2d.cu), the
// bias-row add, and the deterministic column sum behind the bias gradient.
#include "cuda/cublas_handle.h"
#include "cuda/gemm.h"
#include "cuda/launch.cuh"

namespace nwq {

void cuda_gemm_rm(const GemmParams& p, const float* a, const float* b, float* c, int batch,
                  int64_t stride_a, int64_t stride_b, int64_t stride_c) {
  if (p.m <= 0 || p.n <= 0 || batch <= 0) return;
  const cublasOperation_t op_a = p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  // Row-major X with row stride ld is column-major X^T with leading dimension ld.
  if (batch == 1) {
    CUBLAS_CHECK(cublasSgemm(cublas_handle(), op_b, op_a, p.n, p.m, p.k, &p.alpha, b, p.ldb, a,
                             p.lda, &p.beta, c, p.ldc));
  } else {
    CUBLAS_CHECK(cublasSgemmStridedBatched(cublas_handle(), op_b, op_a, p.n, p.m, p.k, &p.alpha,
                                           b, p.ldb, stride_b, a, p.lda, stride_a, &p.beta, c,
                                           p.ldc, stride_c, batch));
  }
}

void gemm_cuda(const GemmParams& p, const float* a, const float* b, float* c) {
  cuda_gemm_rm(p, a, b, c);
}

namespace {

struct BiasRowsOp {
  float* y;
  const float* b;
  int64_t cols;
  __device__ void operator()(int64_t i) const { y[i] += b[i % cols]; }
};

// gb [cols] = sum over rows of gy [rows, cols]. Block (32, 8) owns 32 columns: thread (tx, ty)
// adds rows ty, ty + 8, ... in order, then the 8 row partials are added in ty order.
constexpr int kColTile = 32, kRowLanes = 8;
__global__ void linear_sum_rows_kernel(const float* gy, float* gb, int64_t rows, int64_t cols) {
  __shared__ float part[kRowLanes][kColTile + 1];
  const int64_t j = int64_t(blockIdx.x) * kColTile + threadIdx.x;
  float acc = 0;
  if (j < cols) {
    for (int64_t i = threadIdx.y; i < rows; i += kRowLanes) acc += gy[i * cols + j];
  }
  part[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y != 0 || j >= cols) return;
  float sum = 0;
  for (int r = 0; r < kRowLanes; ++r) sum += part[r][threadIdx.x];
  gb[j] = sum;
}

}  // namespace

// y [rows, cols] += b [cols] (accumulates).
void bias_rows_cuda(float* y, const float* b, int64_t rows, int64_t cols) {
  launch_elementwise("bias_rows", rows * cols, BiasRowsOp{y, b, cols});
}

// gb [cols] = column sums of gy [rows, cols] (assigns; fixed order, no atomics).
void sum_rows_cuda(const float* gy, float* gb, int64_t rows, int64_t cols) {
  if (cols <= 0) return;
  const int64_t blocks = (cols + kColTile - 1) / kColTile;
  linear_sum_rows_kernel<<<unsigned(blocks), dim3(kColTile, kRowLanes)>>>(gy, gb, rows, cols);
  check_launch("sum_rows");
}

}  // namespace nwq
