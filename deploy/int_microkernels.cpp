// The micro-kernels of deploy/int_microkernels.h: AVX-512 VNNI (u8 x s8 -> int32, vpdpbusd, no
// saturation), AVX2 (int16 pairs, vpmaddwd) and a portable loop, each templated on its tile size.
#include "deploy/int_microkernels.h"

#include <immintrin.h>

#include <cstring>

#include "core/error.h"

namespace nwq {

IntLayout int_layout(IntIsa isa) {
  if (isa == IntIsa::Avx512Vnni) return {16, 2, 4, 8, true};
  return {8, 2, 2, 6, false};
}

namespace {

// The 32-bit word at p (any alignment).
inline int32_t word_at(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// P panels of 16 rows x N columns; weights u8, input s8 (4 channels a word).
template <int P, int N>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void tile_vnni(const IntTile& t) {
  __m512i acc[P][N];
  for (int p = 0; p < P; ++p) {
    const __m512i init = t.init ? _mm512_loadu_si512(t.init + 16 * p) : _mm512_setzero_si512();
    for (int n = 0; n < N; ++n) acc[p][n] = init;
  }
  const uint8_t* w = static_cast<const uint8_t*>(t.w);
  for (int64_t tap = 0; tap < t.taps; ++tap) {
    const int8_t* a[N];
    for (int n = 0; n < N; ++n) a[n] = static_cast<const int8_t*>(t.a[n]) + t.tap_offset[tap];
    for (int64_t c = 0; c < t.words; ++c, w += P * 64) {
      __m512i wv[P];
      for (int p = 0; p < P; ++p) wv[p] = _mm512_loadu_si512(w + p * 64);
      for (int n = 0; n < N; ++n) {
        const __m512i b = _mm512_set1_epi32(word_at(a[n] + c * 4));
        for (int p = 0; p < P; ++p) acc[p][n] = _mm512_dpbusd_epi32(acc[p][n], wv[p], b);
      }
    }
  }
  for (int p = 0; p < P; ++p) {
    const __m512i zw = t.zw ? _mm512_loadu_si512(t.zw + 16 * p) : _mm512_setzero_si512();
    for (int n = 0; n < N; ++n) {
      if (t.zw) acc[p][n] = _mm512_sub_epi32(acc[p][n], _mm512_mullo_epi32(zw, _mm512_set1_epi32(t.colsum[n])));
      _mm512_storeu_si512(t.out + n * P * 16 + p * 16, acc[p][n]);
    }
  }
}

// P panels of 8 rows x N columns; int16 weights and input (2 channels a word).
template <int P, int N>
__attribute__((target("avx2"))) void tile_avx2(const IntTile& t) {
  __m256i acc[P][N];
  for (int p = 0; p < P; ++p) {
    const __m256i init = t.init ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.init + 8 * p))
                                : _mm256_setzero_si256();
    for (int n = 0; n < N; ++n) acc[p][n] = init;
  }
  const int16_t* w = static_cast<const int16_t*>(t.w);
  for (int64_t tap = 0; tap < t.taps; ++tap) {
    const int16_t* a[N];
    for (int n = 0; n < N; ++n) a[n] = static_cast<const int16_t*>(t.a[n]) + t.tap_offset[tap];
    for (int64_t c = 0; c < t.words; ++c, w += P * 16) {
      __m256i wv[P];
      for (int p = 0; p < P; ++p) wv[p] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + p * 16));
      for (int n = 0; n < N; ++n) {
        const __m256i b = _mm256_set1_epi32(word_at(a[n] + c * 2));
        for (int p = 0; p < P; ++p) acc[p][n] = _mm256_add_epi32(acc[p][n], _mm256_madd_epi16(wv[p], b));
      }
    }
  }
  for (int p = 0; p < P; ++p) {
    const __m256i zw = t.zw ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.zw + 8 * p))
                            : _mm256_setzero_si256();
    for (int n = 0; n < N; ++n) {
      if (t.zw) acc[p][n] = _mm256_sub_epi32(acc[p][n], _mm256_mullo_epi32(zw, _mm256_set1_epi32(t.colsum[n])));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(t.out + n * P * 8 + p * 8), acc[p][n]);
    }
  }
}

// The same contract in plain loops (int16 layout).
void tile_portable(const IntTile& t) {
  const int rows = t.panels * 8;
  for (int n = 0; n < t.cols; ++n) {
    for (int r = 0; r < rows; ++r) {
      int32_t s = t.init ? t.init[r] : 0;
      const int16_t* w = static_cast<const int16_t*>(t.w);
      for (int64_t tap = 0; tap < t.taps; ++tap) {
        const int16_t* a = static_cast<const int16_t*>(t.a[n]) + t.tap_offset[tap];
        for (int64_t c = 0; c < t.words; ++c, w += rows * 2)
          s += int32_t(w[r * 2]) * a[c * 2] + int32_t(w[r * 2 + 1]) * a[c * 2 + 1];
      }
      if (t.zw) s -= t.zw[r] * t.colsum[n];
      t.out[n * rows + r] = s;
    }
  }
}

using TileFn = void (*)(const IntTile&);

template <template <int, int> class K, int... N>
TileFn pick_cols(int panels, int cols, std::integer_sequence<int, N...>) {
  static const TileFn one[] = {K<1, N + 1>::fn...};
  static const TileFn two[] = {K<2, N + 1>::fn...};
  return panels == 1 ? one[cols - 1] : two[cols - 1];
}

template <int P, int N>
struct VnniTile { static constexpr TileFn fn = tile_vnni<P, N>; };
template <int P, int N>
struct Avx2Tile { static constexpr TileFn fn = tile_avx2<P, N>; };

}  // namespace

void run_int_tile(IntIsa isa, const IntTile& t) {
  const IntLayout l = int_layout(isa);
  NWQ_CHECK(t.panels >= 1 && t.panels <= l.max_panels && t.cols >= 1 && t.cols <= l.cols,
            "run_int_tile: ", t.panels, " panels x ", t.cols, " columns do not fit ", int_isa_name(isa));
  switch (isa) {
    case IntIsa::Avx512Vnni: return pick_cols<VnniTile>(t.panels, t.cols, std::make_integer_sequence<int, 8>())(t);
    case IntIsa::Avx2: return pick_cols<Avx2Tile>(t.panels, t.cols, std::make_integer_sequence<int, 6>())(t);
    default: return tile_portable(t);
  }
}

}  // namespace nwq
