// 2-D convolution (cross-correlation, as PyTorch's conv2d) with stride, padding, dilation and
// groups. Grouped convs with several input channels per group use im2col + GEMM; convs with one
// input channel per group (depthwise, channel multipliers) use a direct kernel.
#pragma once
#include "ops/dispatch.h"

namespace nwq {

struct Conv2dParams {
  int stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1, groups = 1;
};

// x [N, C, H, W], w [O, C/groups, KH, KW], b [O] or undefined -> y [N, O, OH, OW] with
// OH = (H + 2 pad_h - dilation_h (KH - 1) - 1) / stride_h + 1 (likewise OW).
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p = {});

// Everything a kernel needs to know: the sizes of x [N, C, H, W], w [O, C/groups, KH, KW],
// y [N, O, OH, OW], and the parameters. Plain data, passed to CPU and CUDA kernels alike.
struct Conv2dShape {
  int N = 0, C = 0, H = 0, W = 0, O = 0, KH = 0, KW = 0, OH = 0, OW = 0;
  Conv2dParams p;
};

// Checks x, w, p (throwing with the op name and the shapes) and returns the shape.
Conv2dShape conv2d_shape(const Tensor& x, const Tensor& w, const Conv2dParams& p);

// Kernels (contiguous NCHW, shapes as in Conv2dShape; b may be null).
// forward: assigns y. backward_input: assigns gx [N, C, H, W] from gy [N, O, OH, OW] and w.
// backward_weight: assigns gw [O, C/groups, KH, KW] from x and gy. backward_bias: assigns
// gb [O] = sum of gy over N, OH, OW.
template <class T>
using Conv2dFwdFn = void (*)(const T* x, const T* w, const T* b, T* y, Conv2dShape s);
template <class T> using Conv2dBwdInputFn = void (*)(const T* gy, const T* w, T* gx, Conv2dShape s);
template <class T>
using Conv2dBwdWeightFn = void (*)(const T* x, const T* gy, T* gw, Conv2dShape s);
template <class T> using Conv2dBwdBiasFn = void (*)(const T* gy, T* gb, Conv2dShape s);

// im2col + GEMM kernels (ops/conv2d.cpp), any groups with C/groups > 1.
extern KernelSlot<Conv2dFwdFn> conv2d_forward_kernel;
extern KernelSlot<Conv2dBwdInputFn> conv2d_backward_input_kernel;
extern KernelSlot<Conv2dBwdWeightFn> conv2d_backward_weight_kernel;
extern KernelSlot<Conv2dBwdBiasFn> conv2d_backward_bias_kernel;  // used by both paths
// Direct kernels for C/groups == 1 (ops/conv2d_depthwise.cpp); output channel o reads input
// channel o / (O / groups).
extern KernelSlot<Conv2dFwdFn> depthwise_conv2d_forward_kernel;
extern KernelSlot<Conv2dBwdInputFn> depthwise_conv2d_backward_input_kernel;
extern KernelSlot<Conv2dBwdWeightFn> depthwise_conv2d_backward_weight_kernel;

}  // namespace nwq
