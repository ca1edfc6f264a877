// CUDA twins of ops/conv2d_depthwise.cpp (convs with one input channel per group; output channel
// o reads input channel o / (O / C)). Forward: one thread per output. Backward input: one thread
// per input pixel gathering the taps that read it. Backward weight: blocks (o, slice) write
// per-tap partial sums over their slice of N x OH x OW, added in slice order by a second pass
// (deterministic, no atomics).
#include <algorithm>

#include "core/tensor.h"
#include "cuda/block_reduce.cuh"
#include "cuda/fast_divmod.cuh"
#include "ops/conv2d.h"

namespace nwq {

namespace {

using Index = int64_t;

// y [N, O, OH, OW]: thread i = ((n O + o) OH + oh) OW + ow.
template <class Div>
__global__ void dw_forward_kernel(const float* __restrict__ x, const float* __restrict__ w,
                                  const float* __restrict__ b, float* __restrict__ y,
                                  Conv2dShape s, typename IndexOf<Div>::type total, Div div_ow,
                                  Div div_oh, Div div_o, int mult) {
  using I = typename IndexOf<Div>::type;
  const Conv2dParams p = s.p;
  const I step = I(blockDim.x) * gridDim.x;
  for (I i = I(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    I r1, ow, r2, oh, n, o;
    div_ow.divmod(i, r1, ow);
    div_oh.divmod(r1, r2, oh);
    div_o.divmod(r2, n, o);
    const float* xp = x + (Index(n) * s.C + Index(o) / mult) * s.H * s.W;
    const float* wp = w + Index(o) * s.KH * s.KW;
    const int ih0 = int(oh) * p.stride_h - p.pad_h, iw0 = int(ow) * p.stride_w - p.pad_w;
    float acc = b ? b[o] : 0.0f;
    for (int kh = 0; kh < s.KH; ++kh) {
      const int ih = ih0 + kh * p.dilation_h;
      if (ih < 0 || ih >= s.H) continue;
      for (int kw = 0; kw < s.KW; ++kw) {
        const int iw = iw0 + kw * p.dilation_w;
        if (iw >= 0 && iw < s.W) acc += wp[kh * s.KW + kw] * xp[ih * s.W + iw];
      }
    }
    y[i] = acc;
  }
}

// gx [N, C, H, W]: thread i = ((n C + c) H + h) W + w sums gy * w over the output channels of c
// and the taps that read (h, w).
template <class Div>
__global__ void dw_backward_input_kernel(const float* __restrict__ gy, const float* __restrict__ w,
                                         float* __restrict__ gx, Conv2dShape s,
                                         typename IndexOf<Div>::type total, Div div_w, Div div_h,
                                         Div div_c, int mult) {
  using I = typename IndexOf<Div>::type;
  const Conv2dParams p = s.p;
  const Index ohw = Index(s.OH) * s.OW;
  const I step = I(blockDim.x) * gridDim.x;
  for (I i = I(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    I r1, iw, r2, ih, n, c;
    div_w.divmod(i, r1, iw);
    div_h.divmod(r1, r2, ih);
    div_c.divmod(r2, n, c);
    float acc = 0;
    for (int o = int(c) * mult; o < (int(c) + 1) * mult; ++o) {
      const float* gyp = gy + (Index(n) * s.O + o) * ohw;
      const float* wp = w + Index(o) * s.KH * s.KW;
      for (int kh = 0; kh < s.KH; ++kh) {
        const int th = int(ih) + p.pad_h - kh * p.dilation_h;
        if (th < 0) break;
        if (th % p.stride_h != 0) continue;
        const int oh = th / p.stride_h;
        if (oh >= s.OH) continue;
        for (int kw = 0; kw < s.KW; ++kw) {
          const int tw = int(iw) + p.pad_w - kw * p.dilation_w;
          if (tw < 0) break;
          if (tw % p.stride_w != 0) continue;
          const int ow = tw / p.stride_w;
          if (ow >= s.OW) continue;
          acc += wp[kh * s.KW + kw] * gyp[oh * s.OW + ow];
        }
      }
    }
    gx[i] = acc;
  }
}

constexpr int kDwThreads = 256;

// Block (o, slice): partial[(o taps + t) slices + slice] = sum over positions q in
// [slice len, (slice + 1) len) of N x OH x OW of gy[n, o, oh, ow] * x[n, o / mult, ih, iw] at tap t.
__global__ void dw_weight_partial_kernel(const float* __restrict__ x, const float* __restrict__ gy,
                                         float* __restrict__ partial, Conv2dShape s, int mult,
                                         Index len, Div32 div_ow) {
  __shared__ float scratch[32];
  const Conv2dParams p = s.p;
  const int o = blockIdx.x, slices = gridDim.y, taps = s.KH * s.KW;
  const int ohw = s.OH * s.OW;
  const Index total = Index(s.N) * ohw;
  const Index q0 = Index(blockIdx.y) * len + threadIdx.x, q1 = min(total, Index(blockIdx.y) * len + len);
  const int step = blockDim.x, n_step = step / ohw, pos_step = step % ohw;
  for (int t = 0; t < taps; ++t) {
    const int kh = t / s.KW, kw = t % s.KW;
    float acc = 0;
    // Position q = n * ohw + pos, advanced by `step` without a 64-bit division per element.
    int n = int(q0 / ohw), pos = int(q0 % ohw);
    for (Index q = q0; q < q1; q += step) {
      uint32_t oh, ow;
      div_ow.divmod(uint32_t(pos), oh, ow);
      const int ih = int(oh) * p.stride_h - p.pad_h + kh * p.dilation_h;
      const int iw = int(ow) * p.stride_w - p.pad_w + kw * p.dilation_w;
      if (ih >= 0 && ih < s.H && iw >= 0 && iw < s.W) {
        acc += gy[(Index(n) * s.O + o) * ohw + pos] *
               x[(Index(n) * s.C + o / mult) * s.H * s.W + ih * s.W + iw];
      }
      n += n_step, pos += pos_step;
      if (pos >= ohw) pos -= ohw, ++n;
    }
    acc = block_sum(acc, scratch);
    if (threadIdx.x == 0) partial[(Index(o) * taps + t) * slices + blockIdx.y] = acc;
  }
}

// gw[j] = sum of partial[j slices .. (j + 1) slices) in slice order.
__global__ void dw_weight_finish_kernel(const float* __restrict__ partial, float* __restrict__ gw,
                                        int count, int slices) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= count) return;
  float acc = 0;
  for (int k = 0; k < slices; ++k) acc += partial[Index(j) * slices + k];
  gw[j] = acc;
}

}  // namespace

// x [N, C, H, W], w [O, 1, KH, KW], b [O] or null -> y [N, O, OH, OW] (assigns).
void depthwise_conv2d_forward_cuda(const float* x, const float* w, const float* b, float* y,
                                   Conv2dShape s) {
  const int64_t total = int64_t(s.N) * s.O * s.OH * s.OW;
  if (total <= 0) return;
  const int mult = s.O / s.C;
  if (total < kIndex32Limit) {
    dw_forward_kernel<<<grid_for(total), kBlockSize>>>(x, w, b, y, s, uint32_t(total),
                                                       Div32(s.OW), Div32(s.OH), Div32(s.O), mult);
  } else {
    dw_forward_kernel<<<grid_for(total), kBlockSize>>>(x, w, b, y, s, total, Div64(s.OW),
                                                       Div64(s.OH), Div64(s.O), mult);
  }
  check_launch("depthwise_conv2d_forward");
}

// gy [N, O, OH, OW], w [O, 1, KH, KW] -> gx [N, C, H, W] (assigns).
void depthwise_conv2d_backward_input_cuda(const float* gy, const float* w, float* gx,
                                          Conv2dShape s) {
  const int64_t total = int64_t(s.N) * s.C * s.H * s.W;
  if (total <= 0) return;
  const int mult = s.O / s.C;
  if (total < kIndex32Limit) {
    dw_backward_input_kernel<<<grid_for(total), kBlockSize>>>(
        gy, w, gx, s, uint32_t(total), Div32(s.W), Div32(s.H), Div32(s.C), mult);
  } else {
    dw_backward_input_kernel<<<grid_for(total), kBlockSize>>>(gy, w, gx, s, total, Div64(s.W),
                                                              Div64(s.H), Div64(s.C), mult);
  }
  check_launch("depthwise_conv2d_backward_input");
}

// x [N, C, H, W], gy [N, O, OH, OW] -> gw [O, 1, KH, KW] (assigns).
void depthwise_conv2d_backward_weight_cuda(const float* x, const float* gy, float* gw,
                                           Conv2dShape s) {
  const int taps = s.KH * s.KW, count = s.O * taps;
  if (count <= 0) return;
  const int64_t positions = int64_t(s.N) * s.OH * s.OW;
  // Slices of at least 8 positions a thread, and about 4096 blocks in all at most.
  const int64_t min_len = 8 * kDwThreads;
  const int64_t max_slices = std::max<int64_t>(1, 4096 / s.O);
  const int64_t slices =
      std::max<int64_t>(1, std::min(max_slices, (positions + min_len - 1) / min_len));
  const int64_t len = std::max<int64_t>(1, (positions + slices - 1) / slices);
  Tensor partial = Tensor::empty({int64_t(count) * slices}, DType::F32, Device::cuda());
  dw_weight_partial_kernel<<<dim3(s.O, unsigned(slices)), kDwThreads>>>(
      x, gy, partial.data<float>(), s, s.O / s.C, len, Div32(s.OW));
  check_launch("depthwise_conv2d_backward_weight");
  dw_weight_finish_kernel<<<(count + 255) / 256, 256>>>(partial.data<float>(), gw, count,
                                                        int(slices));
  check_launch("depthwise_conv2d_backward_weight finish");
}

}  // namespace nwq
