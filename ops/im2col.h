// im2col / col2im for one image and one channel block: the layout change that turns a
// convolution into a GEMM, and its adjoint. Also the window-clipping rule the direct kernels share.
#pragma once
#include "ops/conv2d.h"

namespace nwq {

// The output positions o in [lo, hi) whose input position o * stride + offset lies in
// [0, in_size); hi >= lo (an empty range when no position is valid).
struct ValidRange {
  int lo, hi;
};
ValidRange valid_range(int out_size, int stride, int offset, int in_size);

// x [channels, H, W] -> col [channels * KH * KW, OH * OW] (assigns; padding reads as 0).
template <class T> void im2col(const T* x, int channels, const Conv2dShape& s, T* col);
// gx [channels, H, W] += the adjoint of im2col applied to col (accumulates overlapping windows).
template <class T> void col2im_add(const T* col, int channels, const Conv2dShape& s, T* gx);

}  // namespace nwq
