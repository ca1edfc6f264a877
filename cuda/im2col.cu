// CUDA im2col (one thread per input channel and output position, writing its KH x KW taps),
// col2im as a gather (one thread per input pixel summing the taps that read it: deterministic),
// and the two small layout kernels of cuda/conv2d.cu.
#include "cuda/fast_divmod.cuh"
#include "cuda/im2col.h"

namespace nwq {

Tensor cuda_workspace(int64_t floats) {
  int64_t size = int64_t(1) << 18;  // 1 MiB at least
  while (size < floats) size <<= 1;
  return Tensor::empty({size}, DType::F32, Device::cuda());
}

namespace {

// Thread i: p = i % OHW, channel c = (i / OHW) % C, image n = i / (OHW C).
__global__ void im2col_kernel(const float* __restrict__ x, float* __restrict__ col, Conv2dShape s,
                              uint32_t total, Div32 div_ohw, Div32 div_c, Div32 div_ow,
                              int64_t image_stride, int64_t row_stride) {
  const Conv2dParams p = s.p;
  const uint32_t step = blockDim.x * gridDim.x;
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += step) {
    uint32_t rest, pos, n, c, oh, ow;
    div_ohw.divmod(i, rest, pos);
    div_c.divmod(rest, n, c);
    div_ow.divmod(pos, oh, ow);
    const float* xp = x + (int64_t(n) * s.C + c) * s.H * s.W;
    float* cp = col + n * image_stride + int64_t(c) * s.KH * s.KW * row_stride + pos;
    const int ih0 = int(oh) * p.stride_h - p.pad_h, iw0 = int(ow) * p.stride_w - p.pad_w;
    for (int kh = 0; kh < s.KH; ++kh) {
      const int ih = ih0 + kh * p.dilation_h;
      const bool row_in = ih >= 0 && ih < s.H;
      for (int kw = 0; kw < s.KW; ++kw) {
        const int iw = iw0 + kw * p.dilation_w;
        *cp = (row_in && iw >= 0 && iw < s.W) ? xp[ih * s.W + iw] : 0.0f;
        cp += row_stride;
      }
    }
  }
}

// Thread i: input pixel (h, w) = divmod(i % HW, W) of channel (i / HW) % C of image i / (HW C).
__global__ void col2im_kernel(const float* __restrict__ col, float* __restrict__ gx, Conv2dShape s,
                              uint32_t total, Div32 div_hw, Div32 div_c, Div32 div_w) {
  const Conv2dParams p = s.p;
  const int64_t ohw = int64_t(s.OH) * s.OW;
  const uint32_t step = blockDim.x * gridDim.x;
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += step) {
    uint32_t rest, pix, n, c, h, w;
    div_hw.divmod(i, rest, pix);
    div_c.divmod(rest, n, c);
    div_w.divmod(pix, h, w);
    const float* cp = col + (int64_t(n) * s.C + c) * s.KH * s.KW * ohw;
    float sum = 0;
    for (int kh = 0; kh < s.KH; ++kh) {
      const int th = int(h) + p.pad_h - kh * p.dilation_h;  // = oh * stride_h when tap kh reads h
      if (th < 0) break;                                     // th only decreases with kh
      if (th % p.stride_h != 0) continue;
      const int oh = th / p.stride_h;
      if (oh >= s.OH) continue;
      for (int kw = 0; kw < s.KW; ++kw) {
        const int tw = int(w) + p.pad_w - kw * p.dilation_w;
        if (tw < 0) break;
        if (tw % p.stride_w != 0) continue;
        const int ow = tw / p.stride_w;
        if (ow >= s.OW) continue;
        sum += cp[(kh * s.KW + kw) * ohw + oh * s.OW + ow];
      }
    }
    gx[i] = sum;
  }
}

// dst [B, A, P] = src [A, B, P] (+ bias[a] when bias is not null).
__global__ void swap_outer_kernel(const float* __restrict__ src, float* __restrict__ dst,
                                  const float* __restrict__ bias, uint32_t total, int B,
                                  Div32 div_p, Div32 div_a) {
  const uint32_t step = blockDim.x * gridDim.x;
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += step) {
    uint32_t r, pos, bb, a;
    div_p.divmod(i, r, pos);
    div_a.divmod(r, bb, a);
    const float v = src[(int64_t(a) * B + bb) * div_p.d + pos];
    dst[i] = bias ? v + bias[a] : v;
  }
}

// wt[i], i = ((g Cg + c) Og + o) KK + t, = w[((g Og + o) Cg + c) KK + KK - 1 - t].
__global__ void flip_weight_kernel(const float* __restrict__ w, float* __restrict__ wt,
                                   uint32_t total, int Cg, int Og, Div32 div_kk, Div32 div_og,
                                   Div32 div_cg) {
  const uint32_t step = blockDim.x * gridDim.x;
  const uint32_t kk = div_kk.d;
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += step) {
    uint32_t r1, t, r2, o, grp, c;
    div_kk.divmod(i, r1, t);
    div_og.divmod(r1, r2, o);
    div_cg.divmod(r2, grp, c);
    wt[i] = w[((int64_t(grp) * Og + o) * Cg + c) * kk + (kk - 1 - t)];
  }
}

}  // namespace

void im2col_cuda(const float* x, float* col, const Conv2dShape& s, int images,
                 int64_t image_stride, int64_t row_stride) {
  const int64_t total = int64_t(images) * s.C * s.OH * s.OW;
  if (total <= 0) return;
  NWQ_CHECK(total < kIndex32Limit, "im2col: chunk of ", total, " positions is too large");
  im2col_kernel<<<grid_for(total), kBlockSize>>>(x, col, s, uint32_t(total),
                                                 Div32(int64_t(s.OH) * s.OW), Div32(s.C),
                                                 Div32(s.OW), image_stride, row_stride);
  check_launch("im2col");
}

void col2im_cuda(const float* col, float* gx, const Conv2dShape& s, int images) {
  const int64_t total = int64_t(images) * s.C * s.H * s.W;
  if (total <= 0) return;
  NWQ_CHECK(total < kIndex32Limit, "col2im: chunk of ", total, " pixels is too large");
  col2im_kernel<<<grid_for(total), kBlockSize>>>(col, gx, s, uint32_t(total),
                                                 Div32(int64_t(s.H) * s.W), Div32(s.C),
                                                 Div32(s.W));
  check_launch("col2im");
}

void swap_outer_cuda(const float* src, float* dst, const float* bias, int A, int B, int P) {
  const int64_t total = int64_t(A) * B * P;
  if (total <= 0) return;
  NWQ_CHECK(total < kIndex32Limit, "conv2d transpose: chunk of ", total, " floats is too large");
  swap_outer_kernel<<<grid_for(total), kBlockSize>>>(src, dst, bias, uint32_t(total), B, Div32(P),
                                                     Div32(A));
  check_launch("conv2d transpose");
}

void flip_conv_weight_cuda(const float* w, float* wt, const Conv2dShape& s) {
  const int Cg = s.C / s.p.groups, Og = s.O / s.p.groups, kk = s.KH * s.KW;
  const int64_t total = int64_t(s.C) * Og * kk;
  if (total <= 0) return;
  NWQ_CHECK(total < kIndex32Limit, "conv2d: weight of ", total, " floats is too large");
  flip_weight_kernel<<<grid_for(total), kBlockSize>>>(w, wt, uint32_t(total), Cg, Og, Div32(kk),
                                                      Div32(Og), Div32(Cg));
  check_launch("conv2d flip weight");
}

}  // namespace nwq
