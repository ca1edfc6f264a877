// The integer kernels of deploy/int_kernels.h: a blocked int16 GEMM in three instruction sets
// (chosen at run time), im2col over codes, and fixed-point requantization.
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

// ---------------------------------------------------------------- GEMM micro-kernels

namespace {

// R weight rows times N columns over k2: the register block of every ISA.
template <int R, int N>
void block_portable(const int16_t* const* w, const int16_t* const* a, int64_t k2, int32_t* c,
                    int64_t ldc) {
  for (int r = 0; r < R; ++r) {
    for (int n = 0; n < N; ++n) {
      int32_t s = 0;
      for (int64_t k = 0; k < k2; ++k) s += int32_t(w[r][k]) * int32_t(a[n][k]);
      c[r * ldc + n] = s;
    }
  }
}

__attribute__((target("avx2"))) inline int32_t hsum256(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

template <int R, int N>
__attribute__((target("avx2"))) void block_avx2(const int16_t* const* w, const int16_t* const* a,
                                                int64_t k2, int32_t* c, int64_t ldc) {
  __m256i acc[R][N];
  for (int r = 0; r < R; ++r)
    for (int n = 0; n < N; ++n) acc[r][n] = _mm256_setzero_si256();
  for (int64_t k = 0; k < k2; k += 16) {
    __m256i av[N];
    for (int n = 0; n < N; ++n) av[n] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[n] + k));
    for (int r = 0; r < R; ++r) {
      const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[r] + k));
      for (int n = 0; n < N; ++n) acc[r][n] = _mm256_add_epi32(acc[r][n], _mm256_madd_epi16(wv, av[n]));
    }
  }
  for (int r = 0; r < R; ++r)
    for (int n = 0; n < N; ++n) c[r * ldc + n] = hsum256(acc[r][n]);
}

template <int R, int N>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void block_vnni(
    const int16_t* const* w, const int16_t* const* a, int64_t k2, int32_t* c, int64_t ldc) {
  __m512i acc[R][N];
  for (int r = 0; r < R; ++r)
    for (int n = 0; n < N; ++n) acc[r][n] = _mm512_setzero_si512();
  for (int64_t k = 0; k < k2; k += 32) {
    __m512i av[N];
    for (int n = 0; n < N; ++n) av[n] = _mm512_loadu_si512(a[n] + k);
    for (int r = 0; r < R; ++r) {
      const __m512i wv = _mm512_loadu_si512(w[r] + k);
      for (int n = 0; n < N; ++n) acc[r][n] = _mm512_dpwssd_epi32(acc[r][n], wv, av[n]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int n = 0; n < N; ++n) {
      alignas(64) int32_t lanes[16];
      _mm512_store_si512(lanes, acc[r][n]);
      int32_t s = 0;
      for (int32_t v : lanes) s += v;
      c[r * ldc + n] = s;
    }
}

using BlockFn = void (*)(const int16_t* const*, const int16_t* const*, int64_t, int32_t*, int64_t);

// The kernels for a full 4 x 3 block and its edges (fewer rows and/or columns).
template <int R, int N>
struct PortableK { static constexpr BlockFn fn = block_portable<R, N>; };
template <int R, int N>
struct Avx2K { static constexpr BlockFn fn = block_avx2<R, N>; };
template <int R, int N>
struct VnniK { static constexpr BlockFn fn = block_vnni<R, N>; };

constexpr int kRows = 4, kCols = 3;

template <template <int, int> class K>
BlockFn pick(int r, int n) {
  static const BlockFn table[kRows][kCols] = {
      {K<1, 1>::fn, K<1, 2>::fn, K<1, 3>::fn}, {K<2, 1>::fn, K<2, 2>::fn, K<2, 3>::fn},
      {K<3, 1>::fn, K<3, 2>::fn, K<3, 3>::fn}, {K<4, 1>::fn, K<4, 2>::fn, K<4, 3>::fn}};
  return table[r - 1][n - 1];
}

BlockFn pick_block(IntIsa isa, int r, int n) {
  switch (isa) {
    case IntIsa::Avx2: return pick<Avx2K>(r, n);
    case IntIsa::Avx512Vnni: return pick<VnniK>(r, n);
    default: return pick<PortableK>(r, n);
  }
}

}  // namespace

void int16_gemm(IntIsa isa, const int16_t* w, const int16_t* a, int32_t* c, int64_t rows,
                int64_t cols, int64_t k2, int64_t ldc) {
  NWQ_CHECK(k2 % kIntK == 0, "int16_gemm: k2 ", k2, " is not a multiple of ", kIntK);
  NWQ_CHECK(int_isa_supported(isa), "int16_gemm: this CPU does not run ", int_isa_name(isa));
  constexpr int64_t kTileCols = 48;  // columns per task: a tile of A stays in L1/L2
  const int64_t row_blocks = (rows + kRows - 1) / kRows, col_tiles = (cols + kTileCols - 1) / kTileCols;
  const int64_t tasks = row_blocks * col_tiles;
#pragma omp parallel for schedule(static) if (rows * cols * k2 > (int64_t{1} << 18))
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t p_begin = (t % col_tiles) * kTileCols, o = (t / col_tiles) * kRows;
    const int64_t p_end = std::min(cols, p_begin + kTileCols);
    const int r = int(std::min<int64_t>(kRows, rows - o));
    const int16_t* wr[kRows];
    for (int i = 0; i < r; ++i) wr[i] = w + (o + i) * k2;
    for (int64_t p = p_begin; p < p_end; p += kCols) {
      const int n = int(std::min<int64_t>(kCols, p_end - p));
      const int16_t* ac[kCols];
      for (int j = 0; j < n; ++j) ac[j] = a + (p + j) * k2;
      pick_block(isa, r, n)(wr, ac, k2, c + o * ldc + p, ldc);
    }
  }
}

// ---------------------------------------------------------------- im2col over codes

void codes_to_columns(const uint8_t* x, int zero_point, const IntConvShape& s, int64_t group,
                      int16_t* cols, int64_t k2) {
  const int64_t oh = s.out_h(), ow = s.out_w(), cg = s.channels / s.groups, k = s.k();
  const int64_t plane = s.height * s.width;
#pragma omp parallel for schedule(static) if (oh * ow * k > (int64_t{1} << 16))
  for (int64_t p = 0; p < oh * ow; ++p) {
    const int64_t y0 = (p / ow) * s.stride_h - s.pad_h, x0 = (p % ow) * s.stride_w - s.pad_w;
    int16_t* col = cols + p * k2;
    int64_t i = 0;
    for (int64_t c = 0; c < cg; ++c) {
      const uint8_t* xc = x + (group * cg + c) * plane;
      for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
        const int64_t yy = y0 + kh * s.dilation_h;
        for (int64_t kw = 0; kw < s.kernel_w; ++kw, ++i) {
          const int64_t xx = x0 + kw * s.dilation_w;
          const bool inside = yy >= 0 && yy < s.height && xx >= 0 && xx < s.width;
          col[i] = inside ? int16_t(int(xc[yy * s.width + xx]) - zero_point) : int16_t(0);
        }
      }
    }
    std::fill(col + k, col + k2, int16_t(0));
  }
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
