// The register-blocked micro-kernels of the packed integer convolution (deploy/int_conv.h): a block
// of weight rows times a few output columns, read straight from a padded channels-last input.
#pragma once
#include <cstdint>

#include "deploy/int_kernels.h"

namespace nwq {

// How an ISA lays out operands. Weights of a row block are stored [tap][channel step][rows][step]
// (rows = panels * panel_rows), so the kernel reads them as one contiguous stream; the input holds
// `step` channels per 32-bit word, which the kernel broadcasts to every row.
//   vnni:            u8 weight codes x s8 (x_code - 128), vpdpbusd, 16-row panels, 8 columns
//   avx2, portable:  int16 (w - z_w) x int16 (x - z_x), vpmaddwd, 8-row panels, 6 columns
struct IntLayout {
  int panel_rows, max_panels, step, cols;
  bool bytes;  // 8-bit operands (vnni) or 16-bit
};
IntLayout int_layout(IntIsa isa);

// One tile: out[n * rows + r] = init[r] - zw[r] * colsum[n] + sum over taps t and channel words c
// of dot(w[(t * words + c) * rows * step + r * step ..], a[n] + tap_offset[t] + c * step), for
// r < rows = panels * panel_rows and n < cols (cols <= the layout's). a[n]: the column's window
// origin in the input (elements); tap_offset in elements. zw and colsum may be null (no term).
struct IntTile {
  const void* w;
  const void* const* a;
  const int64_t* tap_offset;
  int64_t taps, words;
  const int32_t* init;
  const int32_t* zw;
  const int32_t* colsum;
  int panels, cols;
  int32_t* out;
};
void run_int_tile(IntIsa isa, const IntTile& t);

}  // namespace nwq
