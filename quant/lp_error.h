// The sums behind the range searches (quant/observer.h): sum_j |error_j|^p over float data,
// vectorized (AVX2) where the build allows it, with a plain loop otherwise. |a|^p is computed in
// double precision (relative error below 1e-9), the sums in double.
#pragma once
#include <cstdint>

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

}  // namespace nwq
