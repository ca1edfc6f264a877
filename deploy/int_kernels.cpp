// The basics of deploy/int_kernels.h: instruction-set detection (NWQ_INT_ISA) and fixed-point
// requantization.
#include "deploy/int_kernels.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "core/error.h"

namespace nwq {

// ---------------------------------------------------------------- instruction sets

bool int_isa_supported(IntIsa isa) {
  switch (isa) {
    case IntIsa::Portable: return true;
    case IntIsa::Avx2: return __builtin_cpu_supports("avx2");
    case IntIsa::Avx512Vnni:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vnni");
  }
  return false;
}

std::string int_isa_name(IntIsa isa) {
  switch (isa) {
    case IntIsa::Portable: return "portable";
    case IntIsa::Avx2: return "avx2";
    case IntIsa::Avx512Vnni: return "vnni";
  }
  return "?";
}

IntIsa best_int_isa() {
  if (const char* env = std::getenv("NWQ_INT_ISA"); env && *env) {
    for (IntIsa isa : {IntIsa::Portable, IntIsa::Avx2, IntIsa::Avx512Vnni}) {
      if (int_isa_name(isa) != env) continue;
      NWQ_CHECK(int_isa_supported(isa), "NWQ_INT_ISA=", env, ": this CPU does not run it");
      return isa;
    }
    throw Error(str("NWQ_INT_ISA=", env, ": expected portable, avx2 or vnni"));
  }
  if (int_isa_supported(IntIsa::Avx512Vnni)) return IntIsa::Avx512Vnni;
  return int_isa_supported(IntIsa::Avx2) ? IntIsa::Avx2 : IntIsa::Portable;
}

// ---------------------------------------------------------------- requantization

bool make_requant(double multiplier, double bias_over_scale, ChannelRequant* out) {
  if (!(multiplier > 0) || !std::isfinite(multiplier) || !std::isfinite(bias_over_scale)) return false;
  int e = 0;
  const double mant = std::frexp(multiplier, &e);  // multiplier = mant * 2^e, mant in [0.5, 1)
  const int shift = 31 - e;
  if (shift < 1 || shift > 62) return false;
  const double bias = std::ldexp(bias_over_scale, shift);
  if (std::fabs(bias) >= std::ldexp(1.0, 62)) return false;
  out->m0 = std::llround(std::ldexp(mant, 31));
  out->shift = shift;
  out->bias = std::llround(bias);
  return true;
}

void requantize(const int32_t* acc, int64_t n, const ChannelRequant& r, int zero_point, int lo,
                int hi, uint8_t* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = requantize_value(acc[i], r, zero_point, lo, hi);
}

RequantArrays requant_arrays(const std::vector<ChannelRequant>& req) {
  RequantArrays a;
  for (const ChannelRequant& r : req) {
    a.m0.push_back(r.m0);
    a.add.push_back(r.bias + (int64_t{1} << (r.shift - 1)));
    a.shift.push_back(r.shift);
  }
  return a;
}

bool int_avx512dq_supported() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
}

namespace {

// Eight channels a step: (acc * m0 + add) >> shift + z in int64 lanes, clamped, narrowed to bytes.
__attribute__((target("avx512f,avx512dq"))) int requantize_avx512(const int32_t* acc, int rows, const int64_t* m0,
                                                                  const int64_t* add, const int64_t* shift, int z,
                                                                  int lo, int hi, uint8_t* out, int64_t stride) {
  int r = 0;
  for (; r + 8 <= rows; r += 8) {
    // The zero-masking forms (all lanes on): GCC 12 warns on the plain ones' undefined pass-through.
    const __mmask8 all = 0xff;
    __m512i v = _mm512_maskz_cvtepi32_epi64(all, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + r)));
    v = _mm512_add_epi64(_mm512_mullo_epi64(v, _mm512_loadu_si512(m0 + r)), _mm512_loadu_si512(add + r));
    v = _mm512_add_epi64(_mm512_maskz_srav_epi64(all, v, _mm512_loadu_si512(shift + r)), _mm512_set1_epi64(z));
    v = _mm512_maskz_min_epi64(all, _mm512_maskz_max_epi64(all, v, _mm512_set1_epi64(lo)), _mm512_set1_epi64(hi));
    alignas(16) uint8_t b[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(b), _mm512_maskz_cvtepi64_epi8(all, v));
    for (int i = 0; i < 8; ++i) out[(r + i) * stride] = b[i];
  }
  return r;
}

}  // namespace

void requantize_channels(const int32_t* acc, int rows, const RequantArrays& req, int64_t row0, int zero_point,
                         int lo, int hi, uint8_t* out, int64_t stride, bool vector) {
  const size_t o = size_t(row0);
  const int done = vector ? requantize_avx512(acc, rows, req.m0.data() + o, req.add.data() + o,
                                              req.shift.data() + o, zero_point, lo, hi, out, stride)
                          : 0;
  for (int r = done; r < rows; ++r) {
    const int64_t q = ((int64_t(acc[r]) * req.m0[o + r] + req.add[o + r]) >> req.shift[o + r]) + zero_point;
    out[r * stride] = uint8_t(q < lo ? lo : (q > hi ? hi : q));
  }
}

}  // namespace nwq
