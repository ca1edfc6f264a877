// CUDA twin of ops/lp_error.cpp's quant_error_sums: the error sum of every candidate grid of a
// range search over one tensor. Block (b, c) sums a fixed segment of x for candidate c into a
// double partial; a second pass adds each candidate's partials in segment order (no atomics).
// |a|^p uses the CPU's series (log via atanh, exp by Taylor) in double, rounded the same way.
#include <algorithm>

#include "core/tensor.h"
#include "cuda/block_reduce.cuh"
#include "ops/lp_error.h"

namespace nwq {

namespace {

constexpr int kThreads = 256;
constexpr int64_t kMinSegment = int64_t(kThreads) * 64;  // values per block and candidate
constexpr int64_t kMaxPartials = int64_t(1) << 24;      // 128 MB of double partial sums at most

__device__ double pow_abs_dev(float a, double p) {
  const float x = fabsf(a);
  if (x < 1e-30f) return 0.0;
  const unsigned bits = __float_as_uint(x);
  double e = double(int(bits >> 23) - 127);
  double m = double(__uint_as_float((bits & 0x007fffffu) | 0x3f800000u));
  if (m > 1.4142135623730951) m = __dmul_rn(m, 0.5), e = __dadd_rn(e, 1.0);
  const double u = __ddiv_rn(__dadd_rn(m, -1.0), __dadd_rn(m, 1.0)), u2 = __dmul_rn(u, u);
  const double logc[6] = {1.0 / 11, 1.0 / 9, 1.0 / 7, 1.0 / 5, 1.0 / 3, 1.0};
  double s = 1.0 / 13;
  for (double c : logc) s = __dadd_rn(__dmul_rn(s, u2), c);
  double t = __dmul_rn(p, __dadd_rn(e, __dmul_rn(__dmul_rn(__dmul_rn(2.0, u), s), 1.4426950408889634)));
  t = fmax(t, -1000.0);
  const double n = nearbyint(t), r = __dmul_rn(__dadd_rn(t, -n), 0.6931471805599453);
  const double expc[10] = {1.0 / 362880, 1.0 / 40320, 1.0 / 5040, 1.0 / 720, 1.0 / 120,
                           1.0 / 24,     1.0 / 6,     1.0 / 2,    1.0,       1.0};
  double y = 1.0 / 3628800;
  for (double c : expc) y = __dadd_rn(__dmul_rn(y, r), c);
  return __dmul_rn(y, scalbn(1.0, int(n)));
}

// partial[c * segments + b] = sum over segment b of |(clamp(rint(x/s)+z, 0, qmax) - z) s - x|^p.
__global__ void quant_error_partial_kernel(const float* x, const float* scale,
                                           const float* zero_point, double* partial, int64_t n,
                                           int64_t segment, int64_t segments, float qmax, double p) {
  __shared__ double scratch[32];
  const int64_t b = blockIdx.x, c = blockIdx.y;
  const float s = scale[c], z = zero_point[c];
  const int64_t begin = b * segment, end = min(n, begin + segment);
  double acc = 0;
  for (int64_t j = begin + threadIdx.x; j < end; j += blockDim.x) {
    float q = __fadd_rn(nearbyintf(__fdiv_rn(x[j], s)), z);
    q = fminf(fmaxf(q, 0.0f), qmax);
    acc += pow_abs_dev(__fadd_rn(__fmul_rn(__fadd_rn(q, -z), s), -x[j]), p);
  }
  acc = block_sum(acc, scratch);
  if (threadIdx.x == 0) partial[c * segments + b] = acc;
}

__global__ void sum_partials_kernel(const double* partial, double* out, int64_t segments,
                                    int64_t count) {
  const int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= count) return;
  double sum = 0;
  for (int64_t b = 0; b < segments; ++b) sum += partial[c * segments + b];
  out[c] = sum;
}

}  // namespace

void quant_error_sums_cuda(const float* x, const float* scale, const float* zero_point, double* out,
                           QuantErrorParams p) {
  if (p.count == 0) return;
  NWQ_CHECK(p.count <= 65535, "quant_error_sums: at most 65535 candidates per call, got ", p.count);
  // Segments of a size fixed by n and count alone (so the sums do not depend on the device).
  const int64_t segment = std::max(kMinSegment, (p.n * p.count + kMaxPartials - 1) / kMaxPartials);
  const int64_t segments = std::max<int64_t>(1, (p.n + segment - 1) / segment);
  Tensor partial = Tensor::empty({p.count * segments}, DType::F64, Device::cuda());
  const dim3 grid(static_cast<unsigned>(segments), static_cast<unsigned>(p.count));
  quant_error_partial_kernel<<<grid, kThreads>>>(x, scale, zero_point, partial.data<double>(), p.n,
                                                 segment, segments, p.qmax, p.p);
  check_launch("quant_error_partial_kernel");
  sum_partials_kernel<<<static_cast<unsigned>((p.count + 255) / 256), 256>>>(
      partial.data<double>(), out, segments, p.count);
  check_launch("sum_partials_kernel");
}

}  // namespace nwq
