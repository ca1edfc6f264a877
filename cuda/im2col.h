// CUDA im2col / col2im over a chunk of images, the other layout changes of the conv kernels
// (outer-dim swap, flipped kernel), and their scratch buffer. Chunk-local indices must stay below
// 2^31 (cuda/conv2d.cu sizes its chunks so).
#pragma once
#include <cstdint>

#include "core/tensor.h"
#include "ops/conv2d.h"

namespace nwq {

// A float scratch tensor on the device of at least `floats` elements, rounded up to a power of
// two so that the caching allocator sees few distinct sizes across layers.
Tensor cuda_workspace(int64_t floats);

// x [images, C, H, W] -> col: the value of tap (c, kh, kw) of image n at output position
// p = oh * OW + ow goes to col[n * image_stride + ((c * KH + kh) * KW + kw) * row_stride + p]
// (assigns; padding reads as 0). Image-major: image_stride = C KH KW OH OW, row_stride = OH OW.
// Tap-major (a [C KH KW, images OH OW] matrix): image_stride = OH OW, row_stride = images OH OW.
void im2col_cuda(const float* x, float* col, const Conv2dShape& s, int images,
                 int64_t image_stride, int64_t row_stride);

// The adjoint of image-major im2col: gx [images, C, H, W] = the sum of every col entry that
// reads each input pixel (assigns; a gather per pixel in (kh, kw) order, no atomics).
void col2im_cuda(const float* col, float* gx, const Conv2dShape& s, int images);

// dst [B, A, P] = src [A, B, P], plus bias[a] when bias is not null (assigns).
void swap_outer_cuda(const float* src, float* dst, const float* bias, int A, int B, int P);

// wt [C, O/groups, KH, KW] from w [O, C/groups, KH, KW]: wt[g Cg + c, o, kh, kw] =
// w[g Og + o, c, KH-1-kh, KW-1-kw] (the kernel of the stride-1 conv that maps gy to gx).
void flip_conv_weight_cuda(const float* w, float* wt, const Conv2dShape& s);

}  // namespace nwq
