// im2col / col2im for one image and one channel block: the layout change that turns a
// convolution into a GEMM, and its adjoint. Also the window-clipping rule the direct kernels share.
#pragma once
#include <algorithm>

#include "ops/conv2d.h"

namespace nwq {

// The output positions o in [lo, hi) whose input position o * stride + offset lies in
// [0, in_size); hi >= lo (an empty range when no position is valid).
struct ValidRange {
  int lo, hi;
};
inline ValidRange valid_range(int out_size, int stride, int offset, int in_size) {
  // o * stride + offset >= 0  <=>  o >= ceil(-offset / stride)
  int lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  // o * stride + offset <= in_size - 1  <=>  o <= floor((in_size - 1 - offset) / stride)
  int last = in_size - 1 - offset;
  int hi = last < 0 ? 0 : last / stride + 1;
  lo = std::min(lo, out_size);
  hi = std::max(lo, std::min(hi, out_size));
  return {lo, hi};
}

// Output rows [oh0, oh1): im2col works on tiles of output rows so that col stays in cache.
struct RowTile {
  int oh0, oh1;
};

// Output rows per tile for col rows of Kg taps: tiles of about 192K elements (768 KB of floats)
// stay in a core's L2 cache while the GEMM reads them (measured up to 1.2x faster than
// whole-image columns on 56x56 planes), but keep at least 512 GEMM columns (narrower GEMMs lose
// more than the cache gains); tiles are evened out.
int im2col_tile_rows(int Kg, int OH, int OW);

// x [channels, H, W] -> col [channels * KH * KW, (oh1 - oh0) * OW]: the taps of output rows
// [oh0, oh1) (assigns; padding reads as 0).
template <class T>
void im2col(const T* x, int channels, const Conv2dShape& s, RowTile tile, T* col);
// gx [channels, H, W] += the adjoint of im2col for the same tile (accumulates overlapping
// windows).
template <class T>
void col2im_add(const T* col, int channels, const Conv2dShape& s, RowTile tile, T* gx);

}  // namespace nwq
