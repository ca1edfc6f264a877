// Matrix products: matmul (2-D x 2-D) and linear (x w^T + b), plus the row-major CPU GEMM
// wrapper over OpenBLAS that the conv kernels build on, and a guard for OpenBLAS's thread count.
#pragma once
#include "ops/dispatch.h"

namespace nwq {

// a [M, K] x b [K, N] -> [M, N].
Tensor matmul(const Tensor& a, const Tensor& b);
// x [N, in], w [out, in], b [out] or undefined -> x w^T + b [N, out].
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b);

// Row-major C = alpha * op(A) op(B) + beta * C, op(A) [m, k], op(B) [k, n], C [m, n];
// lda/ldb/ldc are the row strides of A, B, C as stored (before transposition).
struct GemmParams {
  int trans_a = 0, trans_b = 0;
  int m = 0, n = 0, k = 0;
  int lda = 0, ldb = 0, ldc = 0;
  float alpha = 1, beta = 0;
};

// Kernels. gemm: as GemmParams says (beta = 0 assigns, beta = 1 accumulates).
// bias_rows: y [rows, cols] += b [cols] (accumulates). sum_rows: gb [cols] = sum over rows of
// gy [rows, cols] (assigns).
template <class T> using GemmFn = void (*)(const GemmParams& p, const T* a, const T* b, T* c);
template <class T> using BiasRowsFn = void (*)(T* y, const T* b, int64_t rows, int64_t cols);
template <class T> using SumRowsFn = void (*)(const T* gy, T* gb, int64_t rows, int64_t cols);
extern KernelSlot<GemmFn> gemm_kernel;
extern KernelSlot<BiasRowsFn> bias_rows_kernel;
extern KernelSlot<SumRowsFn> sum_rows_kernel;

// The CPU GEMM (cblas_sgemm / cblas_dgemm) for kernels that call it on raw pointers. Outside
// OpenMP parallel regions a large GEMM is split over OpenMP threads (single-threaded BLAS
// calls); inside one it is a single BLAS call, so callers that spread work over OpenMP threads
// hold a BlasThreadsGuard(1) around their loop.
template <class T> void cpu_gemm(const GemmParams& p, const T* a, const T* b, T* c);

// Sets OpenBLAS's thread count for a scope and restores it after. nwq parallelizes with OpenMP
// and keeps OpenBLAS single-threaded: two thread pools on two cores fight (see linear.cpp).
class BlasThreadsGuard {
 public:
  explicit BlasThreadsGuard(int threads);
  ~BlasThreadsGuard();
  BlasThreadsGuard(const BlasThreadsGuard&) = delete;
  BlasThreadsGuard& operator=(const BlasThreadsGuard&) = delete;

 private:
  int previous_;
};

}  // namespace nwq
