// The sums behind the range searches (quant/range_search.h): sum_j |error_j|^p over float data,
// vectorized (AVX2) where the build allows it, with a plain loop otherwise. |a|^p is computed in
// double precision (relative error below 1e-11), the sums in double. quant_error_sums runs one
// candidate grid per sum on the data's device (its CUDA twin: cuda/lp_error.cu).
#pragma once
#include <cstdint>
#include <vector>

#include "ops/dispatch.h"

namespace nwq {

// |a|^p for a float a and p >= 1 (0 for |a| < 1e-30).
double pow_abs(float a, double p);

// sum_j |q_j - x_j|^p with q_j = (clamp(rint(x_j / s) + z, 0, qmax) - z) * s, every step in float
// as QDrop's fake_quantize_per_tensor_affine does it (rint: half to even).
double quant_error_sum(const float* x, int64_t n, float s, float z, float qmax, double p);

// sum_j |c - v_j|^p over v[0..n), in index order, or from v[n-1] down to v[0] when `backward`.
// Stops early, returning a value > limit, once the partial sum exceeds limit (checked every 8
// values): callers prune candidates that cannot win, and pass the values farthest from c first.
double clip_error_sum(const float* v, int64_t n, float c, double p, double limit,
                      bool backward = false);

// out[j] = |d[j]|^p for j < n.
void pow_abs_many(const float* d, double* out, int64_t n, double p);

// For each candidate grid c: quant_error_sum(x, scale[c], zero_point[c]) over all of x (a F32
// tensor on any device; candidates in host vectors of equal length). The sums are in double in
// an order fixed by x's size alone, so a result does not depend on timing or thread count.
std::vector<double> quant_error_sums(const Tensor& x, const std::vector<float>& scale,
                                     const std::vector<float>& zero_point, int64_t qmax, double p);

// ================================ kernels ================================
// x: n values; scale, zero_point: count candidates; out: count doubles (assigned). All on the
// kernel's device.
struct QuantErrorParams {
  int64_t n, count;
  float qmax;
  double p;
};
template <class T>
using QuantErrorSumsFn = void (*)(const T* x, const T* scale, const T* zero_point, double* out,
                                  QuantErrorParams p);
extern KernelSlot<QuantErrorSumsFn> quant_error_sums_kernel;

}  // namespace nwq
