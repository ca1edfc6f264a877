// Differentiable shape ops: reshape, flatten, permute/transpose, concat, and the two halves of
// the ResNet option-A shortcut (subsample_spatial, pad_channels). NCHW layout throughout.
#pragma once
#include <cstdint>
#include <vector>

#include "ops/dispatch.h"

namespace nwq {

// One dim may be -1. A view sharing x's data when x is contiguous, a copy otherwise.
Tensor reshape(const Tensor& x, const Shape& shape);
// Merges dims start_dim.. into one: [N, C, H, W] -> [N, C*H*W] for start_dim 1.
Tensor flatten(const Tensor& x, int64_t start_dim = 1);
// y's dim i is x's dim dims[i] (negative dims count from the end). Returns a contiguous copy, so
// every op after it sees a plain tensor.
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
// Joins tensors along `dim` (any dim, negative allowed); all other sizes must match.
Tensor concat(const std::vector<Tensor>& xs, int64_t dim);
// [N, C, H, W] -> [N, before + C + after, H, W] with zero channels on both sides.
Tensor pad_channels(const Tensor& x, int64_t before, int64_t after);
// x[:, :, ::stride, ::stride]: [N, C, H, W] -> [N, C, ceil(H/stride), ceil(W/stride)].
Tensor subsample_spatial(const Tensor& x, int64_t stride);

// ================================ kernels ================================

// dst[o * dst_stride + j] = src[o * src_stride + j] for o < outer, j < len. Assigns those
// elements only; the op layer passes src/dst already offset to the slab's first element.
struct SlabCopyParams {
  int64_t outer, len, src_stride, dst_stride;
};
template <class T> using SlabCopyFn = void (*)(const T* src, T* dst, SlabCopyParams p);
extern KernelSlot<SlabCopyFn> slab_copy_kernel;

// x, gx: [planes, height, width]; y, gy: [planes, out_height, out_width] (planes = N*C).
// Forward: y[p, i, j] = x[p, i*stride, j*stride]. Backward assigns every element of gx:
// gy at the sampled positions, 0 elsewhere.
struct SubsampleParams {
  int64_t planes, height, width, out_height, out_width, stride;
};
template <class T> using SubsampleFwdFn = void (*)(const T* x, T* y, SubsampleParams p);
template <class T> using SubsampleBwdFn = void (*)(const T* gy, T* gx, SubsampleParams p);
extern KernelSlot<SubsampleFwdFn> subsample_forward_kernel;
extern KernelSlot<SubsampleBwdFn> subsample_backward_kernel;

}  // namespace nwq
