// Direct CPU kernels for convolutions with one input channel per group (depthwise convs, channel
// multipliers, and single-channel images): output channel o reads only input channel
// o / (O / groups), so a 9-tap loop per plane beats im2col + a GEMM with one row.
#include <omp.h>

#include <algorithm>

#include "ops/conv2d.h"
#include "ops/im2col.h"

namespace nwq {

namespace {

int64_t plane(int h, int w) { return static_cast<int64_t>(h) * w; }

// One plane: y [OH, OW] = bias + sum over taps of w[kh, kw] * x [H, W] (assigns).
template <class T>
void forward_plane(const T* __restrict x, const T* __restrict w, T bias, T* __restrict y,
                   const Conv2dShape& s) {
  const Conv2dParams& p = s.p;
  for (int oh = 0; oh < s.OH; ++oh) {
    T* yr = y + oh * s.OW;
    std::fill_n(yr, s.OW, bias);
    for (int kh = 0; kh < s.KH; ++kh) {
      const int ih = oh * p.stride_h - p.pad_h + kh * p.dilation_h;
      if (ih < 0 || ih >= s.H) continue;
      const T* xr = x + ih * s.W;
      for (int kw = 0; kw < s.KW; ++kw) {
        const int off = kw * p.dilation_w - p.pad_w;
        const ValidRange r = valid_range(s.OW, p.stride_w, off, s.W);
        const T wv = w[kh * s.KW + kw];
        const int sw = p.stride_w;
#pragma omp simd
        for (int ow = r.lo; ow < r.hi; ++ow) yr[ow] += wv * xr[ow * sw + off];
      }
    }
  }
}

// One input plane: gx [H, W] += the taps of one output plane gy [OH, OW] (accumulates).
template <class T>
void backward_input_plane(const T* __restrict gy, const T* __restrict w, T* __restrict gx,
                          const Conv2dShape& s) {
  const Conv2dParams& p = s.p;
  for (int oh = 0; oh < s.OH; ++oh) {
    const T* gyr = gy + oh * s.OW;
    for (int kh = 0; kh < s.KH; ++kh) {
      const int ih = oh * p.stride_h - p.pad_h + kh * p.dilation_h;
      if (ih < 0 || ih >= s.H) continue;
      T* gxr = gx + ih * s.W;
      for (int kw = 0; kw < s.KW; ++kw) {
        const int off = kw * p.dilation_w - p.pad_w;
        const ValidRange r = valid_range(s.OW, p.stride_w, off, s.W);
        const T wv = w[kh * s.KW + kw];
        const int sw = p.stride_w;
#pragma omp simd
        for (int ow = r.lo; ow < r.hi; ++ow) gxr[ow * sw + off] += wv * gyr[ow];
      }
    }
  }
}

// One pair of planes: gw [KH, KW] += sum over positions of gy [OH, OW] * x [H, W] at each tap.
template <class T>
void backward_weight_plane(const T* __restrict x, const T* __restrict gy, T* __restrict gw,
                           const Conv2dShape& s) {
  const Conv2dParams& p = s.p;
  for (int oh = 0; oh < s.OH; ++oh) {
    const T* gyr = gy + oh * s.OW;
    for (int kh = 0; kh < s.KH; ++kh) {
      const int ih = oh * p.stride_h - p.pad_h + kh * p.dilation_h;
      if (ih < 0 || ih >= s.H) continue;
      const T* xr = x + ih * s.W;
      for (int kw = 0; kw < s.KW; ++kw) {
        const int off = kw * p.dilation_w - p.pad_w;
        const ValidRange r = valid_range(s.OW, p.stride_w, off, s.W);
        const int sw = p.stride_w;
        T sum = 0;
#pragma omp simd reduction(+ : sum)
        for (int ow = r.lo; ow < r.hi; ++ow) sum += gyr[ow] * xr[ow * sw + off];
        gw[kh * s.KW + kw] += sum;
      }
    }
  }
}

bool worth_threads(const Conv2dShape& s) {
  return static_cast<int64_t>(s.N) * s.O * s.OH * s.OW * s.KH * s.KW > 32768;
}

// x [N, C, H, W], w [O, 1, KH, KW], b [O] or null -> y [N, O, OH, OW] (assigns).
template <class T>
void depthwise_forward_cpu(const T* x, const T* w, const T* b, T* y, Conv2dShape s) {
  const int mult = s.O / s.C;  // output channels per input channel
  const int64_t taps = plane(s.KH, s.KW), in_plane = plane(s.H, s.W), out_plane = plane(s.OH, s.OW);
  const int64_t planes = static_cast<int64_t>(s.N) * s.O;
#pragma omp parallel for schedule(static) if (worth_threads(s))
  for (int64_t i = 0; i < planes; ++i) {
    const int n = static_cast<int>(i / s.O), o = static_cast<int>(i % s.O);
    const T* xp = x + (static_cast<int64_t>(n) * s.C + o / mult) * in_plane;
    forward_plane(xp, w + o * taps, b ? b[o] : T(0), y + i * out_plane, s);
  }
}

// gy [N, O, OH, OW], w [O, 1, KH, KW] -> gx [N, C, H, W] (assigns). Each input plane gathers its
// `mult` output planes in order, so threads never share a plane.
template <class T>
void depthwise_backward_input_cpu(const T* gy, const T* w, T* gx, Conv2dShape s) {
  const int mult = s.O / s.C;
  const int64_t taps = plane(s.KH, s.KW), in_plane = plane(s.H, s.W), out_plane = plane(s.OH, s.OW);
  const int64_t planes = static_cast<int64_t>(s.N) * s.C;
#pragma omp parallel for schedule(static) if (worth_threads(s))
  for (int64_t i = 0; i < planes; ++i) {
    const int n = static_cast<int>(i / s.C), c = static_cast<int>(i % s.C);
    T* gxp = gx + i * in_plane;
    std::fill_n(gxp, in_plane, T(0));
    for (int o = c * mult; o < (c + 1) * mult; ++o) {
      const T* gyp = gy + (static_cast<int64_t>(n) * s.O + o) * out_plane;
      backward_input_plane(gyp, w + o * taps, gxp, s);
    }
  }
}

// x [N, C, H, W], gy [N, O, OH, OW] -> gw [O, 1, KH, KW] (assigns). One thread per output
// channel, summing over the batch in order (deterministic).
template <class T>
void depthwise_backward_weight_cpu(const T* x, const T* gy, T* gw, Conv2dShape s) {
  const int mult = s.O / s.C;
  const int64_t taps = plane(s.KH, s.KW), in_plane = plane(s.H, s.W), out_plane = plane(s.OH, s.OW);
#pragma omp parallel for schedule(static) if (worth_threads(s))
  for (int o = 0; o < s.O; ++o) {
    T* gwo = gw + o * taps;
    std::fill_n(gwo, taps, T(0));
    for (int n = 0; n < s.N; ++n) {
      const T* xp = x + (static_cast<int64_t>(n) * s.C + o / mult) * in_plane;
      const T* gyp = gy + (static_cast<int64_t>(n) * s.O + o) * out_plane;
      backward_weight_plane(xp, gyp, gwo, s);
    }
  }
}

}  // namespace

KernelSlot<Conv2dFwdFn> depthwise_conv2d_forward_kernel{
    "depthwise_conv2d_forward", depthwise_forward_cpu<float>, depthwise_forward_cpu<double>};
KernelSlot<Conv2dBwdInputFn> depthwise_conv2d_backward_input_kernel{
    "depthwise_conv2d_backward_input", depthwise_backward_input_cpu<float>,
    depthwise_backward_input_cpu<double>};
KernelSlot<Conv2dBwdWeightFn> depthwise_conv2d_backward_weight_kernel{
    "depthwise_conv2d_backward_weight", depthwise_backward_weight_cpu<float>,
    depthwise_backward_weight_cpu<double>};

}  // namespace nwq
