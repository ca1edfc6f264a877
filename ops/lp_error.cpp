// Lp error sums for the range searches: |a|^p as 2^(p log2|a|) with series for log and exp in
// double, four lanes at a time with AVX2 (the scalar twin does the same operations in the same
// order, so a value never depends on its position in the array).
#include "ops/lp_error.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#if defined(__AVX2__)
#include <immintrin.h>
#define NWQ_LP_AVX2 1
#endif

namespace nwq {

namespace {

constexpr double kLog2e = 1.4426950408889634;
constexpr double kLn2 = 0.6931471805599453;
constexpr double kSqrt2 = 1.4142135623730951;
constexpr float kTiny = 1e-30f;

// The steps of pow_abs on scalars: m in [1, 2) and e with |a| = m * 2^e.
double pow_from_parts(double m, double e, double p) {
  if (m > kSqrt2) m = m * 0.5, e = e + 1.0;
  const double u = (m - 1.0) / (m + 1.0), u2 = u * u;  // log m = 2 atanh(u), |u| <= 0.1716
  double s = 1.0 / 13;
  for (double c : {1.0 / 11, 1.0 / 9, 1.0 / 7, 1.0 / 5, 1.0 / 3, 1.0}) s = s * u2 + c;
  double t = p * (e + 2.0 * u * s * kLog2e);
  t = std::max(t, -1000.0);
  const double n = std::nearbyint(t), r = (t - n) * kLn2;  // |r| <= 0.35
  double x = 1.0 / 3628800;                                // exp(r), Taylor to r^10
  for (double c : {1.0 / 362880, 1.0 / 40320, 1.0 / 5040, 1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6,
                   1.0 / 2, 1.0, 1.0})
    x = x * r + c;
  return x * std::ldexp(1.0, static_cast<int>(n));
}

#ifdef NWQ_LP_AVX2
// pow_abs of four floats, as four doubles; the same operations as pow_from_parts.
inline __m256d pow4(__m128 a, double p) {
  const __m128 x = _mm_and_ps(a, _mm_castsi128_ps(_mm_set1_epi32(0x7fffffff)));
  const __m128i bits = _mm_castps_si128(x);
  const __m128i e32 = _mm_sub_epi32(_mm_srli_epi32(bits, 23), _mm_set1_epi32(127));
  const __m128 m32 = _mm_castsi128_ps(
      _mm_or_si128(_mm_and_si128(bits, _mm_set1_epi32(0x007fffff)), _mm_set1_epi32(0x3f800000)));
  const __m256d one = _mm256_set1_pd(1.0);
  __m256d m = _mm256_cvtps_pd(m32), e = _mm256_cvtepi32_pd(e32);
  const __m256d big = _mm256_cmp_pd(m, _mm256_set1_pd(kSqrt2), _CMP_GT_OQ);
  m = _mm256_blendv_pd(m, _mm256_mul_pd(m, _mm256_set1_pd(0.5)), big);
  e = _mm256_blendv_pd(e, _mm256_add_pd(e, one), big);
  const __m256d u = _mm256_div_pd(_mm256_sub_pd(m, one), _mm256_add_pd(m, one));
  const __m256d u2 = _mm256_mul_pd(u, u);
  __m256d s = _mm256_set1_pd(1.0 / 13);
  for (double c : {1.0 / 11, 1.0 / 9, 1.0 / 7, 1.0 / 5, 1.0 / 3, 1.0})
    s = _mm256_add_pd(_mm256_mul_pd(s, u2), _mm256_set1_pd(c));
  __m256d l = _mm256_mul_pd(_mm256_mul_pd(_mm256_mul_pd(_mm256_set1_pd(2.0), u), s),
                            _mm256_set1_pd(kLog2e));
  __m256d t = _mm256_mul_pd(_mm256_set1_pd(p), _mm256_add_pd(e, l));
  t = _mm256_max_pd(t, _mm256_set1_pd(-1000.0));
  const __m256d n = _mm256_round_pd(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256d r = _mm256_mul_pd(_mm256_sub_pd(t, n), _mm256_set1_pd(kLn2));
  __m256d y = _mm256_set1_pd(1.0 / 3628800);
  for (double c : {1.0 / 362880, 1.0 / 40320, 1.0 / 5040, 1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6,
                   1.0 / 2, 1.0, 1.0})
    y = _mm256_add_pd(_mm256_mul_pd(y, r), _mm256_set1_pd(c));
  const __m256i n64 = _mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(n));
  const __m256d two_n =
      _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(n64, _mm256_set1_epi64x(1023)), 52));
  const __m128i tiny = _mm_castps_si128(_mm_cmplt_ps(x, _mm_set1_ps(kTiny)));
  const __m256d zero_mask = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(tiny));
  return _mm256_andnot_pd(zero_mask, _mm256_mul_pd(y, two_n));
}

// The lanes' sum in a fixed order.
inline double lanes_sum(__m256d v) {
  alignas(32) double d[4];
  _mm256_store_pd(d, v);
  return (d[0] + d[1]) + (d[2] + d[3]);
}

// (clamp(rint(x / s) + z, 0, qmax) - z) * s - x for eight floats.
inline __m256 quant_error8(__m256 x, __m256 s, __m256 z, __m256 qmax) {
  __m256 q = _mm256_round_ps(_mm256_div_ps(x, s), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  q = _mm256_add_ps(q, z);
  q = _mm256_min_ps(_mm256_max_ps(q, _mm256_setzero_ps()), qmax);
  return _mm256_sub_ps(_mm256_mul_ps(_mm256_sub_ps(q, z), s), x);
}
#endif

float quant_error1(float x, float s, float z, float qmax) {
  float q = std::nearbyint(x / s) + z;
  q = std::min(std::max(q, 0.0f), qmax);
  return (q - z) * s - x;
}

}  // namespace

double pow_abs(float a, double p) {
  float x = std::fabs(a);
  if (x < kTiny) return 0.0;
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  const double e = static_cast<double>(static_cast<int32_t>(bits >> 23) - 127);
  const uint32_t mbits = (bits & 0x007fffffu) | 0x3f800000u;
  float m;
  std::memcpy(&m, &mbits, sizeof m);
  return pow_from_parts(static_cast<double>(m), e, p);
}

double quant_error_sum(const float* x, int64_t n, float s, float z, float qmax, double p) {
  int64_t j = 0;
  double sum = 0.0;
#ifdef NWQ_LP_AVX2
  const __m256 vs = _mm256_set1_ps(s), vz = _mm256_set1_ps(z), vq = _mm256_set1_ps(qmax);
  __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
  for (; j + 8 <= n; j += 8) {
    const __m256 d = quant_error8(_mm256_loadu_ps(x + j), vs, vz, vq);
    acc0 = _mm256_add_pd(acc0, pow4(_mm256_castps256_ps128(d), p));
    acc1 = _mm256_add_pd(acc1, pow4(_mm256_extractf128_ps(d, 1), p));
  }
  sum = lanes_sum(acc0) + lanes_sum(acc1);
#endif
  for (; j < n; ++j) sum += pow_abs(quant_error1(x[j], s, z, qmax), p);
  return sum;
}

double clip_error_sum(const float* v, int64_t n, float c, double p, double limit, bool backward) {
  double sum = 0.0;
  int64_t done = 0;
#ifdef NWQ_LP_AVX2
  const __m256 vc = _mm256_set1_ps(c);
  for (; done + 8 <= n; done += 8) {
    const float* at = backward ? v + n - done - 8 : v + done;
    const __m256 d = _mm256_sub_ps(vc, _mm256_loadu_ps(at));
    sum += lanes_sum(_mm256_add_pd(pow4(_mm256_castps256_ps128(d), p),
                                   pow4(_mm256_extractf128_ps(d, 1), p)));
    if (sum > limit) return sum;
  }
#endif
  for (; done < n; ++done) {
    sum += pow_abs(c - (backward ? v[n - 1 - done] : v[done]), p);
    if ((done & 7) == 7 && sum > limit) return sum;
  }
  return sum;
}

namespace {

template <class T>
void quant_error_sums_cpu(const T* x, const T* scale, const T* zero_point, double* out,
                          QuantErrorParams p) {
  // Candidates are independent: one thread each, each sum in its own fixed order.
#pragma omp parallel for schedule(dynamic, 1) if (p.n * p.count > (1 << 16))
  for (int64_t c = 0; c < p.count; ++c) {
    if constexpr (std::is_same_v<T, float>) {
      out[c] = quant_error_sum(x, p.n, scale[c], zero_point[c], p.qmax, p.p);
    } else {  // float64 data: the same steps in double (gradient-check builds only)
      double sum = 0;
      for (int64_t j = 0; j < p.n; ++j) {
        double q = std::min(std::max(std::nearbyint(x[j] / scale[c]) + zero_point[c], 0.0), double(p.qmax));
        sum += std::pow(std::fabs((q - zero_point[c]) * scale[c] - x[j]), p.p);
      }
      out[c] = sum;
    }
  }
}

}  // namespace

KernelSlot<QuantErrorSumsFn> quant_error_sums_kernel{"quant_error_sums", quant_error_sums_cpu<float>,
                                                     quant_error_sums_cpu<double>};

std::vector<double> quant_error_sums(const Tensor& x_in, const std::vector<float>& scale,
                                     const std::vector<float>& zero_point, int64_t qmax, double p) {
  NWQ_CHECK(x_in.defined() && x_in.dtype() == DType::F32, "quant_error_sums: x must be a F32 tensor");
  NWQ_CHECK(scale.size() == zero_point.size(), "quant_error_sums: ", scale.size(), " scales but ",
            zero_point.size(), " zero points");
  const int64_t count = static_cast<int64_t>(scale.size());
  std::vector<double> out(scale.size());
  if (count == 0) return out;
  Tensor x = x_in.contiguous();
  const Device device = x.device();
  const int64_t k = count;
  Tensor s = Tensor::from_vector(scale, {k}).to(device), z = Tensor::from_vector(zero_point, {k}).to(device);
  Tensor sums = Tensor::empty({k}, DType::F64, device);
  quant_error_sums_kernel.get<float>(device)(x.data<float>(), s.data<float>(), z.data<float>(),
                                            sums.data<double>(),
                                            {x.numel(), count, static_cast<float>(qmax), p});
  Tensor host = sums.to(Device::cpu());
  std::copy(host.data<double>(), host.data<double>() + count, out.begin());
  return out;
}

void pow_abs_many(const float* d, double* out, int64_t n, double p) {
  int64_t j = 0;
#ifdef NWQ_LP_AVX2
  for (; j + 4 <= n; j += 4) _mm256_storeu_pd(out + j, pow4(_mm_loadu_ps(d + j), p));
#endif
  for (; j < n; ++j) out[j] = pow_abs(d[j], p);
}

}  // namespace nwq
