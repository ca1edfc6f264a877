// CUDA twins of ops/conv2d.cpp's im2col + GEMM kernels. The batch is cut into chunks of images
// whose columns fit a bounded scratch buffer; each chunk is one im2col launch and one cuBLAS GEMM
// per group (strided-batched over images, or, for small outputs, one GEMM over tap-major
// columns with the images side by side). Stride-1 dX is the forward conv of gy with the flipped
// kernel; other dX go through col2im. dW sums per-image GEMM products, or multiplies tap-major
// columns, adding chunks in order. Deterministic: no atomics anywhere.
#include <algorithm>

#include "cuda/block_reduce.cuh"
#include "cuda/cublas_handle.h"
#include "cuda/fast_divmod.cuh"
#include "cuda/gemm.h"
#include "cuda/im2col.h"

namespace nwq {

namespace {

constexpr int64_t kConvWorkspace = int64_t(64) << 20;  // floats (256 MiB) of scratch per chunk
// Forward: non-1x1 convs with at most this many output positions per image use one GEMM over
// tap-major columns (cuBLAS is slow on the skinny per-image products, e.g. 0.24 -> 0.11 ms for
// ResNet-18's 512-channel 7x7 convs at batch 64 with TF32); larger outputs batch over images.
constexpr int kTapMajorMaxPositions = 256;

// Per-group GEMM sizes: y_g [Og, OHW] = w_g [Og, Kg] x col_g [Kg, OHW] for each image.
struct ConvGeometry {
  int G, Cg, Og, Kg, ohw;
  int64_t x_image, y_image, col_image, w_size;  // floats per image of x, y, col; floats of w
  bool pointwise;                               // 1x1, stride 1, no padding: col is x itself
  explicit ConvGeometry(const Conv2dShape& s)
      : G(s.p.groups), Cg(s.C / s.p.groups), Og(s.O / s.p.groups),
        Kg(s.C / s.p.groups * s.KH * s.KW), ohw(s.OH * s.OW),
        x_image(int64_t(s.C) * s.H * s.W), y_image(int64_t(s.O) * s.OH * s.OW),
        col_image(int64_t(s.C) * s.KH * s.KW * s.OH * s.OW), w_size(int64_t(s.O) * Kg),
        pointwise(s.KH == 1 && s.KW == 1 && s.p.stride_h == 1 && s.p.stride_w == 1 &&
                  s.p.pad_h == 0 && s.p.pad_w == 0) {}
};

// Images per chunk: as many as fit `cap` floats at `per_image` floats each (at least one),
// evened out over the chunks. Chunk-local index spaces then stay below 2^31.
int chunk_images(int N, int64_t per_image, int64_t cap) {
  const int64_t fit = std::max<int64_t>(1, cap / std::max<int64_t>(1, per_image));
  const int64_t chunks = (N + fit - 1) / fit;
  return int((N + chunks - 1) / chunks);
}

void check_index32(const char* what, int64_t total) {
  NWQ_CHECK(total < kIndex32Limit, what, ": chunk of ", total, " elements is too large");
}

// y [images, O, OHW] += b[o].
__global__ void conv_add_bias_kernel(float* __restrict__ y, const float* __restrict__ b,
                                     uint32_t total, Div32 div_ohw, Div32 div_o) {
  const uint32_t step = blockDim.x * gridDim.x;
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += step) {
    uint32_t rest, pos, n, o;
    div_ohw.divmod(i, rest, pos);
    div_o.divmod(rest, n, o);
    y[i] += b[o];
  }
}

// gw[j] (+)= sum over n in order of partial[n * count + j].
__global__ void conv_sum_partials_kernel(const float* __restrict__ partial, float* __restrict__ gw,
                                         int64_t count, int images, bool accumulate) {
  const int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= count) return;
  float acc = accumulate ? gw[j] : 0.0f;
  for (int n = 0; n < images; ++n) acc += partial[n * count + j];
  gw[j] = acc;
}

// gb[o] = sum of gy [N, O, OHW] over N and OHW: block o, each thread in a fixed order (double),
// then the fixed block tree.
__global__ void conv_bias_grad_kernel(const float* __restrict__ gy, float* __restrict__ gb, int N,
                                      int O, int64_t ohw) {
  __shared__ double scratch[32];
  const int o = blockIdx.x;
  double acc = 0;
  for (int n = 0; n < N; ++n) {
    const float* plane = gy + (int64_t(n) * O + o) * ohw;
    for (int64_t i = threadIdx.x; i < ohw; i += blockDim.x) acc += double(plane[i]);
  }
  acc = block_sum(acc, scratch);
  if (threadIdx.x == 0) gb[o] = float(acc);
}

// ---------------------------------------------------------------- forward

// Per chunk: y_g [Og, OHW] = w_g x col_g for each image (strided-batched; col is x when 1x1).
void forward_image_major(const float* x, const float* w, const float* b, float* y,
                         const Conv2dShape& s, const ConvGeometry& g) {
  const int nb = chunk_images(s.N, std::max({g.pointwise ? 0 : g.col_image, g.x_image, g.y_image}),
                              kConvWorkspace);
  Tensor ws = g.pointwise ? Tensor() : cuda_workspace(nb * g.col_image);
  GemmParams gp;
  gp.m = g.Og, gp.n = g.ohw, gp.k = g.Kg, gp.lda = g.Kg, gp.ldb = g.ohw, gp.ldc = g.ohw;
  for (int n0 = 0; n0 < s.N; n0 += nb) {
    const int cnt = std::min(nb, s.N - n0);
    const float* src = x + n0 * g.x_image;
    float* yc = y + n0 * g.y_image;
    if (!g.pointwise) im2col_cuda(src, ws.data<float>(), s, cnt, g.col_image, g.ohw);
    if (!g.pointwise) src = ws.data<float>();
    for (int grp = 0; grp < g.G; ++grp) {
      cuda_gemm_rm(gp, w + int64_t(grp) * g.Og * g.Kg, src + int64_t(grp) * g.Kg * g.ohw,
                   yc + int64_t(grp) * g.Og * g.ohw, cnt, 0, g.pointwise ? g.x_image : g.col_image,
                   g.y_image);
    }
    if (!b) continue;
    const int64_t total = cnt * g.y_image;
    check_index32("conv2d_forward bias", total);
    conv_add_bias_kernel<<<grid_for(total), kBlockSize>>>(yc, b, uint32_t(total), Div32(g.ohw),
                                                          Div32(s.O));
    check_launch("conv2d_forward bias");
  }
}

// Small outputs: per chunk one GEMM per group over tap-major columns [C KH KW, images OHW]
// into yt [O, images, OHW], then y = yt transposed (+ bias).
void forward_tap_major(const float* x, const float* w, const float* b, float* y,
                       const Conv2dShape& s, const ConvGeometry& g) {
  const int nb = chunk_images(s.N, std::max(g.col_image + g.y_image, g.x_image), kConvWorkspace);
  Tensor ws = cuda_workspace(nb * (g.col_image + g.y_image));
  float* col = ws.data<float>();
  float* yt = col + nb * g.col_image;
  for (int n0 = 0; n0 < s.N; n0 += nb) {
    const int cnt = std::min(nb, s.N - n0);
    const int64_t cols = int64_t(cnt) * g.ohw;
    im2col_cuda(x + n0 * g.x_image, col, s, cnt, g.ohw, cols);
    GemmParams gp;  // yt_g [Og, cols] = w_g [Og, Kg] x col_g [Kg, cols]
    gp.m = g.Og, gp.n = int(cols), gp.k = g.Kg, gp.lda = g.Kg, gp.ldb = int(cols);
    gp.ldc = int(cols);
    cuda_gemm_rm(gp, w, col, yt, g.G, int64_t(g.Og) * g.Kg, int64_t(g.Kg) * cols,
                 int64_t(g.Og) * cols);
    swap_outer_cuda(yt, y + n0 * g.y_image, b, s.O, cnt, g.ohw);
  }
}

}  // namespace

// x [N, C, H, W], w [O, C/groups, KH, KW], b [O] or null -> y [N, O, OH, OW] (assigns).
void conv2d_forward_cuda(const float* x, const float* w, const float* b, float* y, Conv2dShape s) {
  const ConvGeometry g(s);
  if (s.N == 0 || g.y_image == 0) return;
  if (s.N > 1 && s.KH * s.KW > 1 && g.ohw <= kTapMajorMaxPositions) {
    forward_tap_major(x, w, b, y, s, g);
  } else {
    forward_image_major(x, w, b, y, s, g);
  }
}

namespace {

// ---------------------------------------------------------------- backward input

// Stride-1 convs (not 1x1 pointwise) whose padding is at most the dilated kernel's reach: gx is
// the forward conv of gy with the flipped, transposed kernel and padding dilation (K - 1) - pad,
// which needs no col2im and has the forward's better GEMM shape (K = O/groups KH KW).
bool dx_as_forward(const Conv2dShape& s, const ConvGeometry& g) {
  return !g.pointwise && s.p.stride_h == 1 && s.p.stride_w == 1 &&
         s.p.pad_h <= s.p.dilation_h * (s.KH - 1) && s.p.pad_w <= s.p.dilation_w * (s.KW - 1);
}

void backward_input_as_forward(const float* gy, const float* w, float* gx, const Conv2dShape& s) {
  Conv2dShape t = s;
  t.C = s.O, t.H = s.OH, t.W = s.OW, t.O = s.C, t.OH = s.H, t.OW = s.W;
  t.p.pad_h = s.p.dilation_h * (s.KH - 1) - s.p.pad_h;
  t.p.pad_w = s.p.dilation_w * (s.KW - 1) - s.p.pad_w;
  Tensor wt = Tensor::empty({int64_t(s.O) * s.C / s.p.groups * s.KH * s.KW}, DType::F32,
                            Device::cuda());
  flip_conv_weight_cuda(w, wt.data<float>(), s);
  conv2d_forward_cuda(gy, wt.data<float>(), nullptr, gx, t);
}

// Per chunk: col_g = w_g^T gy_g for each image (strided-batched), then gx = col2im(col); 1x1
// convs write gx directly.
void backward_input_col2im(const float* gy, const float* w, float* gx, const Conv2dShape& s,
                           const ConvGeometry& g) {
  const int nb = chunk_images(s.N, std::max({g.pointwise ? 0 : g.col_image, g.x_image, g.y_image}),
                              kConvWorkspace);
  Tensor ws = g.pointwise ? Tensor() : cuda_workspace(nb * g.col_image);
  GemmParams gp;  // col_g [Kg, OHW] = w_g^T [Kg, Og] x gy_g [Og, OHW]
  gp.trans_a = 1, gp.m = g.Kg, gp.n = g.ohw, gp.k = g.Og, gp.lda = g.Kg, gp.ldb = g.ohw;
  gp.ldc = g.ohw;
  for (int n0 = 0; n0 < s.N; n0 += nb) {
    const int cnt = std::min(nb, s.N - n0);
    float* dst = g.pointwise ? gx + n0 * g.x_image : ws.data<float>();
    for (int grp = 0; grp < g.G; ++grp) {
      cuda_gemm_rm(gp, w + int64_t(grp) * g.Og * g.Kg, gy + n0 * g.y_image + int64_t(grp) * g.Og * g.ohw,
                   dst + int64_t(grp) * g.Kg * g.ohw, cnt, 0, g.y_image,
                   g.pointwise ? g.x_image : g.col_image);
    }
    if (!g.pointwise) col2im_cuda(ws.data<float>(), gx + n0 * g.x_image, s, cnt);
  }
}

}  // namespace

// gy [N, O, OH, OW], w [O, C/groups, KH, KW] -> gx [N, C, H, W] (assigns).
void conv2d_backward_input_cuda(const float* gy, const float* w, float* gx, Conv2dShape s) {
  const ConvGeometry g(s);
  if (s.N == 0 || g.x_image == 0) return;
  if (s.O == 0) {
    CUDA_CHECK(cudaMemsetAsync(gx, 0, sizeof(float) * s.N * g.x_image));
    return;
  }
  if (dx_as_forward(s, g)) backward_input_as_forward(gy, w, gx, s);
  else backward_input_col2im(gy, w, gx, s, g);
}

namespace {

// ---------------------------------------------------------------- backward weight

// Per chunk: partial[n] = gy_g[n] x col_g[n]^T for each image (strided-batched), then gw (+)=
// the sum of the partials in image order. For weights small next to the columns.
void backward_weight_partials(const float* x, const float* gy, float* gw, const Conv2dShape& s,
                              const ConvGeometry& g) {
  const int nb = chunk_images(s.N, std::max(g.col_image + g.w_size, g.x_image), kConvWorkspace);
  Tensor ws = cuda_workspace(nb * (g.col_image + g.w_size));
  float* col = ws.data<float>();
  float* partial = col + nb * g.col_image;
  GemmParams gp;  // partial_g [Og, Kg] = gy_g [Og, OHW] x col_g^T [OHW, Kg]
  gp.trans_b = 1, gp.m = g.Og, gp.n = g.Kg, gp.k = g.ohw, gp.lda = g.ohw, gp.ldb = g.ohw;
  gp.ldc = g.Kg;
  for (int n0 = 0; n0 < s.N; n0 += nb) {
    const int cnt = std::min(nb, s.N - n0);
    const float* src = x + n0 * g.x_image;
    if (!g.pointwise) im2col_cuda(src, col, s, cnt, g.col_image, g.ohw);
    if (!g.pointwise) src = col;
    for (int grp = 0; grp < g.G; ++grp) {
      cuda_gemm_rm(gp, gy + n0 * g.y_image + int64_t(grp) * g.Og * g.ohw,
                   src + int64_t(grp) * g.Kg * g.ohw, partial + int64_t(grp) * g.Og * g.Kg, cnt,
                   g.y_image, g.pointwise ? g.x_image : g.col_image, g.w_size);
    }
    conv_sum_partials_kernel<<<unsigned((g.w_size + 255) / 256), 256>>>(partial, gw, g.w_size,
                                                                       cnt, n0 > 0);
    check_launch("conv2d_backward_weight sum");
  }
}

// Per chunk: gw_g (+)= gyT_g [Og, images OHW] x colT_g^T [images OHW, Kg] with tap-major
// columns and a channel-major copy of gy (one image needs neither copy for gy, nor for x when
// the conv is 1x1).
void backward_weight_tap_major(const float* x, const float* gy, float* gw, const Conv2dShape& s,
                               const ConvGeometry& g) {
  const int nb = chunk_images(s.N, std::max(g.col_image + g.y_image, g.x_image), kConvWorkspace);
  const bool col_is_x = g.pointwise && nb == 1;
  Tensor ws = cuda_workspace((col_is_x ? 0 : nb * g.col_image) + (nb == 1 ? 0 : nb * g.y_image));
  float* col = ws.data<float>();
  float* gyt = col + (col_is_x ? 0 : nb * g.col_image);
  for (int n0 = 0; n0 < s.N; n0 += nb) {
    const int cnt = std::min(nb, s.N - n0);
    const int64_t k = int64_t(cnt) * g.ohw;
    const float* xc = x + n0 * g.x_image;
    const float* gyc = gy + n0 * g.y_image;
    if (!col_is_x) im2col_cuda(xc, col, s, cnt, g.ohw, k);
    if (cnt > 1) swap_outer_cuda(gyc, gyt, nullptr, cnt, s.O, g.ohw);
    GemmParams gp;
    gp.trans_b = 1, gp.m = g.Og, gp.n = g.Kg, gp.k = int(k), gp.lda = int(k), gp.ldb = int(k);
    gp.ldc = g.Kg, gp.beta = n0 > 0 ? 1.0f : 0.0f;
    cuda_gemm_rm(gp, cnt > 1 ? gyt : gyc, col_is_x ? xc : col, gw, g.G, int64_t(g.Og) * k,
                 int64_t(g.Kg) * k, int64_t(g.Og) * g.Kg);
  }
}

}  // namespace

// x [N, C, H, W], gy [N, O, OH, OW] -> gw [O, C/groups, KH, KW] (assigns).
void conv2d_backward_weight_cuda(const float* x, const float* gy, float* gw, Conv2dShape s) {
  const ConvGeometry g(s);
  if (g.w_size == 0) return;
  if (s.N == 0) {
    CUDA_CHECK(cudaMemsetAsync(gw, 0, sizeof(float) * g.w_size));
    return;
  }
  // Per-image partials won with TF32 GEMMs (ResNet-18 at batch 64: 4.7 -> 4.4 ms over its convs'
  // dW) but lost with FP32 ones (8.3 -> 8.9 ms), where the tap-major GEMM is compute-bound.
  if (s.N > 1 && tf32_enabled() && 4 * g.w_size <= g.col_image) {
    backward_weight_partials(x, gy, gw, s, g);
  } else {
    backward_weight_tap_major(x, gy, gw, s, g);
  }
}

// gy [N, O, OH, OW] -> gb [O] (assigns).
void conv2d_backward_bias_cuda(const float* gy, float* gb, Conv2dShape s) {
  if (s.O == 0) return;
  conv_bias_grad_kernel<<<s.O, 512>>>(gy, gb, s.N, s.O, int64_t(s.OH) * s.OW);
  check_launch("conv2d_backward_bias");
}

}  // namespace nwq
