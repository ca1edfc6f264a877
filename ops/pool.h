// 2-D pooling over NCHW tensors with PyTorch's semantics: max_pool2d (padding counts as -inf),
// avg_pool2d (count_include_pad, ceil_mode), adaptive_avg_pool2d and global_avg_pool2d.
#pragma once
#include "ops/dispatch.h"

namespace nwq {

struct Pool2dParams {
  int kernel_h = 0, kernel_w = 0, stride_h = 0, stride_w = 0, pad_h = 0, pad_w = 0;
  bool count_include_pad = true;  // avg_pool2d: padded cells count in the divisor
  bool ceil_mode = false;         // round the output size up (last window must start in bounds)
};

// x [N, C, H, W] -> [N, C, OH, OW], OH = (H + 2 pad_h - kernel_h) / stride_h + 1 (floor, or ceil
// in ceil_mode, dropping a last window that would start in the right/bottom padding).
// Padding may be at most half the kernel.
Tensor max_pool2d(const Tensor& x, const Pool2dParams& p);
Tensor avg_pool2d(const Tensor& x, const Pool2dParams& p);
// Output cell i covers rows floor(i H / out_h) .. ceil((i + 1) H / out_h) - 1 (likewise columns).
Tensor adaptive_avg_pool2d(const Tensor& x, int out_h, int out_w);
// Mean over H and W: [N, C, H, W] -> [N, C, 1, 1] (adaptive_avg_pool2d(x, 1, 1)).
Tensor global_avg_pool2d(const Tensor& x);

// Sizes for the kernels: x [N, C, H, W], y [N, C, OH, OW] (adaptive pooling ignores p).
struct Pool2dShape {
  int N = 0, C = 0, H = 0, W = 0, OH = 0, OW = 0;
  Pool2dParams p;
};

// Kernels on contiguous NCHW data. Backward kernels assign gx [N, C, H, W].
// max: idx [N, C, OH, OW] receives each window's argmax as an index ih * W + iw into its plane.
template <class T>
using MaxPoolFwdFn = void (*)(const T* x, T* y, int32_t* idx, Pool2dShape s);
template <class T>
using MaxPoolBwdFn = void (*)(const T* gy, const int32_t* idx, T* gx, Pool2dShape s);
template <class T> using PoolFwdFn = void (*)(const T* x, T* y, Pool2dShape s);
template <class T> using PoolBwdFn = void (*)(const T* gy, T* gx, Pool2dShape s);
extern KernelSlot<MaxPoolFwdFn> max_pool2d_forward_kernel;
extern KernelSlot<MaxPoolBwdFn> max_pool2d_backward_kernel;
extern KernelSlot<PoolFwdFn> avg_pool2d_forward_kernel;
extern KernelSlot<PoolBwdFn> avg_pool2d_backward_kernel;
extern KernelSlot<PoolFwdFn> adaptive_avg_pool2d_forward_kernel;
extern KernelSlot<PoolBwdFn> adaptive_avg_pool2d_backward_kernel;
// global: y [N * C] = mean of each plane; backward gx = gy / (H W) over each plane.
extern KernelSlot<PoolFwdFn> global_avg_pool2d_forward_kernel;
extern KernelSlot<PoolBwdFn> global_avg_pool2d_backward_kernel;

}  // namespace nwq
