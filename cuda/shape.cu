// CUDA twins of ops/shape.cpp's kernels: the strided slab copy behind concat and pad_channels,
// and the stride-s spatial subsample pair of the ResNet option-A shortcut. One thread per
// element written; flat indices are split with the dividers of cuda/fast_divmod.cuh.
#include <algorithm>

#include "cuda/fast_divmod.cuh"
#include "ops/shape.h"

namespace nwq {

// dst[o * dst_stride + j] = src[o * src_stride + j] for the flat index o * len + j.
template <class Div>
struct SlabCopyOp {
  const float* src;
  float* dst;
  Div len;
  int64_t src_stride, dst_stride;
  __device__ void operator()(int64_t k) const {
    typename IndexOf<Div>::type o, j;
    len.divmod(static_cast<typename IndexOf<Div>::type>(k), o, j);
    dst[int64_t(o) * dst_stride + j] = src[int64_t(o) * src_stride + j];
  }
};

void slab_copy_cuda(const float* src, float* dst, SlabCopyParams p) {
  const int64_t n = p.outer * p.len;
  if (n <= 0) return;
  if (n < kIndex32Limit) {
    launch_elementwise("slab_copy", n,
                       SlabCopyOp<Div32>{src, dst, Div32(p.len), p.src_stride, p.dst_stride});
  } else {
    launch_elementwise("slab_copy", n,
                       SlabCopyOp<Div64>{src, dst, Div64(p.len), p.src_stride, p.dst_stride});
  }
}

// y[c, i, j] = x[c, i * stride, j * stride], one thread per element of y.
template <class Div>
struct SubsampleForwardOp {
  using Index = typename IndexOf<Div>::type;
  const float* x;
  float* y;
  Div out_width, out_height;
  Index height, width, stride;
  __device__ void operator()(int64_t k) const {
    Index rest, j, c, i;
    out_width.divmod(static_cast<Index>(k), rest, j);
    out_height.divmod(rest, c, i);
    y[k] = x[(c * height + i * stride) * width + j * stride];
  }
};

// gx[c, h, w] = gy[c, h / stride, w / stride] where stride divides h and w, else 0; one thread
// per element of gx.
template <class Div>
struct SubsampleBackwardOp {
  using Index = typename IndexOf<Div>::type;
  const float* gy;
  float* gx;
  Div width, height, stride;
  Index out_height, out_width;
  __device__ void operator()(int64_t k) const {
    Index rest, w, c, h, hq, hr, wq, wr;
    width.divmod(static_cast<Index>(k), rest, w);
    height.divmod(rest, c, h);
    stride.divmod(h, hq, hr);
    stride.divmod(w, wq, wr);
    gx[k] = (hr == 0 && wr == 0) ? gy[(c * out_height + hq) * out_width + wq] : 0.0f;
  }
};

void subsample_forward_cuda(const float* x, float* y, SubsampleParams p) {
  const int64_t n = p.planes * p.out_height * p.out_width;
  if (n <= 0) return;
  if (std::max(n, p.planes * p.height * p.width) < kIndex32Limit) {
    launch_elementwise("subsample_forward", n,
                       SubsampleForwardOp<Div32>{x, y, Div32(p.out_width), Div32(p.out_height),
                                                 uint32_t(p.height), uint32_t(p.width),
                                                 uint32_t(p.stride)});
  } else {
    launch_elementwise("subsample_forward", n,
                       SubsampleForwardOp<Div64>{x, y, Div64(p.out_width), Div64(p.out_height),
                                                 p.height, p.width, p.stride});
  }
}

void subsample_backward_cuda(const float* gy, float* gx, SubsampleParams p) {
  const int64_t n = p.planes * p.height * p.width;
  if (n <= 0) return;
  if (n < kIndex32Limit) {  // gx is at least as large as gy
    launch_elementwise("subsample_backward", n,
                       SubsampleBackwardOp<Div32>{gy, gx, Div32(p.width), Div32(p.height),
                                                  Div32(p.stride), uint32_t(p.out_height),
                                                  uint32_t(p.out_width)});
  } else {
    launch_elementwise("subsample_backward", n,
                       SubsampleBackwardOp<Div64>{gy, gx, Div64(p.width), Div64(p.height),
                                                  Div64(p.stride), p.out_height, p.out_width});
  }
}

}  // namespace nwq
