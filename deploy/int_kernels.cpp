// The basics of deploy/int_kernels.h: instruction-set detection (NWQ_INT_ISA) and fixed-point
// requantization.
#include "deploy/int_kernels.h"

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

}  // namespace nwq
