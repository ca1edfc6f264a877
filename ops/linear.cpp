// matmul and linear: forward and backward are GEMMs (OpenBLAS on the CPU), plus a bias-row add
// and a column sum for the bias gradient. Backward computes only the gradients that are needed.
#include "ops/linear.h"

#include <cblas.h>
#include <omp.h>

#include <limits>

#include "autograd/node.h"

namespace nwq {

namespace {

void blas_gemm(const GemmParams& p, const float* a, const float* b, float* c) {
  cblas_sgemm(CblasRowMajor, p.trans_a ? CblasTrans : CblasNoTrans,
              p.trans_b ? CblasTrans : CblasNoTrans, p.m, p.n, p.k, p.alpha, a, p.lda, b, p.ldb,
              p.beta, c, p.ldc);
}

void blas_gemm(const GemmParams& p, const double* a, const double* b, double* c) {
  cblas_dgemm(CblasRowMajor, p.trans_a ? CblasTrans : CblasNoTrans,
              p.trans_b ? CblasTrans : CblasNoTrans, p.m, p.n, p.k, p.alpha, a, p.lda, b, p.ldb,
              p.beta, c, p.ldc);
}

// Part `i` of `parts` of C, split along its longer side: rows (slices of op(A)) or columns
// (slices of op(B)). Each part is one single-threaded BLAS call.
template <class T>
void gemm_part(const GemmParams& p, const T* a, const T* b, T* c, int i, int parts) {
  GemmParams q = p;
  if (p.m >= p.n) {
    const int r0 = int(int64_t(p.m) * i / parts), r1 = int(int64_t(p.m) * (i + 1) / parts);
    q.m = r1 - r0;
    if (q.m > 0) blas_gemm(q, a + (p.trans_a ? r0 : int64_t(r0) * p.lda), b, c + int64_t(r0) * p.ldc);
  } else {
    const int c0 = int(int64_t(p.n) * i / parts), c1 = int(int64_t(p.n) * (i + 1) / parts);
    q.n = c1 - c0;
    if (q.n > 0) blas_gemm(q, a, b + (p.trans_b ? int64_t(c0) * p.ldb : c0), c + c0);
  }
}

}  // namespace

// OpenBLAS always runs single-threaded here; outside parallel regions a large GEMM is cut into
// one part per OpenMP thread, so all CPU parallelism goes through OpenMP's one thread pool.
// (OpenBLAS's own pthreads spin for ~0.1 s after each threaded call and were measured to stall
// the OpenMP loops that follow by 8-16 ms per call on a 2-core machine.)
template <class T>
void cpu_gemm(const GemmParams& p, const T* a, const T* b, T* c) {
  if (omp_in_parallel()) return blas_gemm(p, a, b, c);  // the caller holds BlasThreadsGuard(1)
  BlasThreadsGuard single_threaded_blas(1);
  const double flops = 2.0 * p.m * p.n * p.k;
  const int parts = flops < (1 << 22) ? 1 : omp_get_max_threads();
  if (parts < 2) return blas_gemm(p, a, b, c);
#pragma omp parallel for schedule(static, 1) num_threads(parts)
  for (int i = 0; i < parts; ++i) gemm_part(p, a, b, c, i, parts);
}

template void cpu_gemm<float>(const GemmParams&, const float*, const float*, float*);
template void cpu_gemm<double>(const GemmParams&, const double*, const double*, double*);

BlasThreadsGuard::BlasThreadsGuard(int threads) : previous_(openblas_get_num_threads()) {
  if (threads != previous_) openblas_set_num_threads(threads);
}

BlasThreadsGuard::~BlasThreadsGuard() {
  if (openblas_get_num_threads() != previous_) openblas_set_num_threads(previous_);
}

// y [rows, cols] += b [cols]
template <class T>
static void bias_rows_cpu(T* y, const T* b, int64_t rows, int64_t cols) {
#pragma omp parallel for if (rows * cols > 65536)
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) y[i * cols + j] += b[j];
  }
}

// gb [cols] = sum_i gy [i, cols]; each column is summed in row order (deterministic).
template <class T>
static void sum_rows_cpu(const T* gy, T* gb, int64_t rows, int64_t cols) {
  for (int64_t j = 0; j < cols; ++j) gb[j] = T(0);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) gb[j] += gy[i * cols + j];
  }
}

KernelSlot<GemmFn> gemm_kernel{"gemm", cpu_gemm<float>, cpu_gemm<double>};
KernelSlot<BiasRowsFn> bias_rows_kernel{"bias_rows", bias_rows_cpu<float>, bias_rows_cpu<double>};
KernelSlot<SumRowsFn> sum_rows_kernel{"sum_rows", sum_rows_cpu<float>, sum_rows_cpu<double>};

// Row-major out [m, n] = op(a) op(b) with beta 0; a and b are contiguous 2-D tensors.
static Tensor gemm(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b) {
  GemmParams p;
  p.trans_a = trans_a;
  p.trans_b = trans_b;
  p.m = static_cast<int>(trans_a ? a.size(1) : a.size(0));
  p.k = static_cast<int>(trans_a ? a.size(0) : a.size(1));
  p.n = static_cast<int>(trans_b ? b.size(0) : b.size(1));
  p.lda = static_cast<int>(a.size(1));
  p.ldb = static_cast<int>(b.size(1));
  p.ldc = p.n;
  Tensor out = Tensor::empty({p.m, p.n}, a.dtype(), a.device());
  if (p.m == 0 || p.n == 0) return out;
  if (p.k == 0) return out.zero_();
  visit_float(a.dtype(), "gemm", [&](auto zero) {
    using T = decltype(zero);
    gemm_kernel.get<T>(a.device())(p, a.data<T>(), b.data<T>(), out.data<T>());
  });
  return out;
}

static void check_matrix(const char* op, const char* what, const Tensor& t) {
  NWQ_CHECK(t.defined(), op, ": ", what, " is undefined");
  NWQ_CHECK(t.dim() == 2, op, ": ", what, " must be 2-D, got ", shape_str(t.sizes()));
  for (int64_t d : t.sizes()) {
    NWQ_CHECK(d <= std::numeric_limits<int>::max(), op, ": ", what, " ",
              shape_str(t.sizes()), " is too large for BLAS int sizes");
  }
}

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  check_matrix("matmul", "a", a_in);
  check_matrix("matmul", "b", b_in);
  NWQ_CHECK(a_in.size(1) == b_in.size(0), "matmul: inner sizes differ: a ",
            shape_str(a_in.sizes()), " x b ", shape_str(b_in.sizes()));
  check_same("matmul", {a_in, b_in});
  Tensor a = a_in.contiguous(), b = b_in.contiguous();
  Tensor y = gemm(a, false, b, false);
  // Edges go to the caller's tensors (contiguous() copies are not recorded by autograd).
  if (should_record({a_in, b_in})) {
    // Save only what backward reads: a for db, b for da.
    Tensor a_saved = b_in.requires_grad() ? a.detach() : Tensor();
    Tensor b_saved = a_in.requires_grad() ? b.detach() : Tensor();
    record("matmul", {a_in, b_in}, y,
           [a = a_saved, b = b_saved](const Tensor& gy_in, const std::vector<bool>& needs) {
             Tensor gy = gy_in.contiguous();
             Tensor ga = needs[0] ? gemm(gy, false, b, true) : Tensor();  // gy b^T
             Tensor gb = needs[1] ? gemm(a, true, gy, false) : Tensor();  // a^T gy
             return std::vector<Tensor>{ga, gb};
           });
  }
  return y;
}

static void add_bias_rows(Tensor& y, const Tensor& b) {
  visit_float(y.dtype(), "linear", [&](auto zero) {
    using T = decltype(zero);
    bias_rows_kernel.get<T>(y.device())(y.data<T>(), b.data<T>(), y.size(0), y.size(1));
  });
}

static Tensor bias_grad(const Tensor& gy) {
  Tensor gb = Tensor::empty({gy.size(1)}, gy.dtype(), gy.device());
  visit_float(gy.dtype(), "linear", [&](auto zero) {
    using T = decltype(zero);
    sum_rows_kernel.get<T>(gy.device())(gy.data<T>(), gb.data<T>(), gy.size(0), gy.size(1));
  });
  return gb;
}

Tensor linear(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in) {
  check_matrix("linear", "x", x_in);
  check_matrix("linear", "weight", w_in);
  NWQ_CHECK(x_in.size(1) == w_in.size(1), "linear: x ", shape_str(x_in.sizes()),
            " has ", x_in.size(1), " features but weight ", shape_str(w_in.sizes()),
            " expects ", w_in.size(1));
  NWQ_CHECK(!b_in.defined() || (b_in.dim() == 1 && b_in.size(0) == w_in.size(0)),
            "linear: bias ", b_in.defined() ? shape_str(b_in.sizes()) : "", " must be [",
            w_in.size(0), "] for weight ", shape_str(w_in.sizes()));
  check_same("linear", {x_in, w_in, b_in});
  Tensor x = x_in.contiguous(), w = w_in.contiguous();
  Tensor b = b_in.defined() ? b_in.contiguous() : Tensor();
  Tensor y = gemm(x, false, w, true);  // x w^T
  if (b.defined()) add_bias_rows(y, b);
  if (should_record({x_in, w_in, b_in})) {
    // Save only what backward reads: x for dW, w for dx.
    Tensor x_saved = w_in.requires_grad() ? x.detach() : Tensor();
    Tensor w_saved = x_in.requires_grad() ? w.detach() : Tensor();
    record("linear", {x_in, w_in, b_in}, y,
           [x_saved, w_saved](const Tensor& gy_in, const std::vector<bool>& needs) {
             Tensor gy = gy_in.contiguous();
             Tensor gx = needs[0] ? gemm(gy, false, w_saved, false) : Tensor();  // gy w
             Tensor gw = needs[1] ? gemm(gy, true, x_saved, false) : Tensor();   // gy^T x
             Tensor gb = needs[2] ? bias_grad(gy) : Tensor();
             return std::vector<Tensor>{gx, gw, gb};
           });
  }
  return y;
}

}  // namespace nwq
