// conv2d: shape rules, the im2col + GEMM CPU kernels (per image and group: y = W col), and the
// autograd wiring. 1x1 stride-1 unpadded convs skip im2col (col is x itself). Images are spread
// over OpenMP threads with single-threaded GEMMs: measured 1.2-3x faster on 2 cores than images
// one after another with OpenBLAS's threads, or batched GEMMs (bench/bench_conv.cpp).
#include "ops/conv2d.h"

#include <omp.h>

#include <algorithm>
#include <limits>
#include <optional>
#include <vector>

#include "autograd/node.h"
#include "ops/im2col.h"
#include "ops/linear.h"

namespace nwq {

namespace {

// Per-group GEMM sizes of one image: y_g [Og, ohw] = w_g [Og, Kg] x col_g [Kg, ohw], with col_g
// built in tiles of output rows.
struct GroupGeometry {
  int Cg, Og, Kg, OH, OW, ohw;
  int64_t x_image, y_image;  // elements per image of x and y
  bool pointwise;            // 1x1, stride 1, no padding: col_g is x_g itself
  int tile_rows;             // output rows per im2col tile
  explicit GroupGeometry(const Conv2dShape& s)
      : Cg(s.C / s.p.groups), Og(s.O / s.p.groups), Kg(Cg * s.KH * s.KW), OH(s.OH), OW(s.OW),
        ohw(s.OH * s.OW), x_image(static_cast<int64_t>(s.C) * s.H * s.W),
        y_image(static_cast<int64_t>(s.O) * ohw),
        pointwise(s.KH == 1 && s.KW == 1 && s.p.stride_h == 1 && s.p.stride_w == 1 &&
                  s.p.pad_h == 0 && s.p.pad_w == 0),
        tile_rows(pointwise ? s.OH : im2col_tile_rows(Kg, s.OH, s.OW)) {}
  int64_t col_size() const { return pointwise ? 0 : static_cast<int64_t>(Kg) * tile_rows * OW; }
  int tiles() const { return (OH + tile_rows - 1) / tile_rows; }
  RowTile tile(int t) const { return {t * tile_rows, std::min(OH, (t + 1) * tile_rows)}; }
};

bool spread_images(int N) { return N > 1 && !omp_in_parallel() && omp_get_max_threads() > 1; }

// Runs body(n, col) for every image n with a per-thread workspace col of col_size elements.
// Several images: OpenMP over images, single-threaded GEMMs inside. One image: cpu_gemm splits
// each GEMM over the threads itself.
template <class T, class Body>
void for_each_image(int N, int64_t col_size, Body body) {
  if (!spread_images(N)) {
    std::vector<T> col(static_cast<size_t>(col_size));
    for (int n = 0; n < N; ++n) body(n, col.data());
    return;
  }
  BlasThreadsGuard single_threaded_blas(1);
#pragma omp parallel
  {
    std::vector<T> col(static_cast<size_t>(col_size));
#pragma omp for schedule(static)
    for (int n = 0; n < N; ++n) body(n, col.data());
  }
}

// One image: x [C, H, W] -> y [O, OH, OW] (assigns), one GEMM per group and tile.
template <class T>
void forward_image(const T* x, const T* w, const T* b, T* y, const Conv2dShape& s,
                   const GroupGeometry& g, T* col) {
  for (int grp = 0; grp < s.p.groups; ++grp) {
    const T* xg = x + static_cast<int64_t>(grp) * g.Cg * s.H * s.W;
    T* yg = y + static_cast<int64_t>(grp) * g.Og * g.ohw;
    for (int t = 0; t < g.tiles(); ++t) {
      const RowTile tile = g.tile(t);
      GemmParams gp;
      gp.m = g.Og, gp.n = (tile.oh1 - tile.oh0) * g.OW, gp.k = g.Kg, gp.lda = g.Kg;
      gp.ldb = g.pointwise ? g.ohw : gp.n, gp.ldc = g.ohw;
      if (!g.pointwise) im2col(xg, g.Cg, s, tile, col);
      cpu_gemm(gp, w + static_cast<int64_t>(grp) * g.Og * g.Kg,
               g.pointwise ? xg + tile.oh0 * g.OW : col, yg + tile.oh0 * g.OW);
    }
    // Bias after the GEMM: a GEMM with beta = 1 over a pre-filled y was measured up to 10x
    // slower for small K (OpenBLAS 0.3.21's small-matrix path).
    for (int o = 0; b && o < g.Og; ++o) {
      const T bias = b[grp * g.Og + o];
      T* row = yg + static_cast<int64_t>(o) * g.ohw;
      for (int j = 0; j < g.ohw; ++j) row[j] += bias;
    }
  }
}

// x [N, C, H, W], w [O, C/groups, KH, KW], b [O] or null -> y [N, O, OH, OW] (assigns).
template <class T>
void conv2d_forward_cpu(const T* x, const T* w, const T* b, T* y, Conv2dShape s) {
  const GroupGeometry g(s);
  for_each_image<T>(s.N, g.col_size(), [&](int n, T* col) {
    forward_image(x + n * g.x_image, w, b, y + n * g.y_image, s, g, col);
  });
}

// One image: gx [C, H, W] = col2im(w_g^T gy_g) per group and tile (assigns).
template <class T>
void backward_input_image(const T* gy, const T* w, T* gx, const Conv2dShape& s,
                          const GroupGeometry& g, T* col) {
  const int64_t gx_group = static_cast<int64_t>(g.Cg) * s.H * s.W;
  for (int grp = 0; grp < s.p.groups; ++grp) {
    const T* gyg = gy + static_cast<int64_t>(grp) * g.Og * g.ohw;
    const T* wg = w + static_cast<int64_t>(grp) * g.Og * g.Kg;
    T* gxg = gx + grp * gx_group;
    if (!g.pointwise) std::fill_n(gxg, gx_group, T(0));
    for (int t = 0; t < g.tiles(); ++t) {
      const RowTile tile = g.tile(t);
      GemmParams gp;  // col [Kg, tile] = w_g^T [Kg, Og] x gy_g [Og, tile]
      gp.trans_a = 1, gp.m = g.Kg, gp.n = (tile.oh1 - tile.oh0) * g.OW, gp.k = g.Og;
      gp.lda = g.Kg, gp.ldb = g.ohw, gp.ldc = g.pointwise ? g.ohw : gp.n;
      if (g.pointwise) {
        cpu_gemm(gp, wg, gyg + tile.oh0 * g.OW, gxg + tile.oh0 * g.OW);
      } else {
        cpu_gemm(gp, wg, gyg + tile.oh0 * g.OW, col);
        col2im_add(col, g.Cg, s, tile, gxg);
      }
    }
  }
}

// gy [N, O, OH, OW], w [O, C/groups, KH, KW] -> gx [N, C, H, W] (assigns).
template <class T>
void conv2d_backward_input_cpu(const T* gy, const T* w, T* gx, Conv2dShape s) {
  const GroupGeometry g(s);
  for_each_image<T>(s.N, g.col_size(), [&](int n, T* col) {
    backward_input_image(gy + n * g.y_image, w, gx + n * g.x_image, s, g, col);
  });
}

// One image: gw_g [Og, Kg] (+)= gy_g [Og, ohw] x col_g^T, tile by tile; assigns when
// !accumulate.
template <class T>
void backward_weight_image(const T* x, const T* gy, T* gw, bool accumulate, const Conv2dShape& s,
                           const GroupGeometry& g, T* col) {
  for (int grp = 0; grp < s.p.groups; ++grp) {
    const T* xg = x + static_cast<int64_t>(grp) * g.Cg * s.H * s.W;
    const T* gyg = gy + static_cast<int64_t>(grp) * g.Og * g.ohw;
    for (int t = 0; t < g.tiles(); ++t) {
      const RowTile tile = g.tile(t);
      GemmParams gp;
      gp.trans_b = 1, gp.m = g.Og, gp.n = g.Kg, gp.k = (tile.oh1 - tile.oh0) * g.OW;
      gp.lda = g.ohw, gp.ldb = g.pointwise ? g.ohw : gp.k, gp.ldc = g.Kg;
      gp.beta = (accumulate || t > 0) ? 1 : 0;
      if (!g.pointwise) im2col(xg, g.Cg, s, tile, col);
      cpu_gemm(gp, gyg + tile.oh0 * g.OW, g.pointwise ? xg + tile.oh0 * g.OW : col,
               gw + static_cast<int64_t>(grp) * g.Og * g.Kg);
    }
  }
}

// x [N, C, H, W], gy [N, O, OH, OW] -> gw [O, C/groups, KH, KW] (assigns). The batch is cut
// into one fixed chunk per thread; chunk sums are added in chunk order (deterministic).
template <class T>
void conv2d_backward_weight_cpu(const T* x, const T* gy, T* gw, Conv2dShape s) {
  const GroupGeometry g(s);
  const int64_t w_size = static_cast<int64_t>(s.O) * g.Kg;
  if (s.N == 0) {
    std::fill_n(gw, w_size, T(0));
    return;
  }
  const bool spread = spread_images(s.N);
  const int chunks = spread ? std::min(s.N, omp_get_max_threads()) : 1;
  std::vector<T> partial(static_cast<size_t>((chunks - 1) * w_size));
  std::optional<BlasThreadsGuard> single_threaded_blas;
  if (spread) single_threaded_blas.emplace(1);
#pragma omp parallel for schedule(static, 1) if (spread)
  for (int c = 0; c < chunks; ++c) {
    T* acc = c == 0 ? gw : partial.data() + (c - 1) * w_size;
    std::vector<T> col(static_cast<size_t>(g.col_size()));
    const int n0 = static_cast<int>(static_cast<int64_t>(s.N) * c / chunks);
    const int n1 = static_cast<int>(static_cast<int64_t>(s.N) * (c + 1) / chunks);
    for (int n = n0; n < n1; ++n) {
      backward_weight_image(x + n * g.x_image, gy + n * g.y_image, acc, n > n0, s, g, col.data());
    }
  }
  for (int c = 1; c < chunks; ++c) {
    const T* part = partial.data() + (c - 1) * w_size;
    for (int64_t i = 0; i < w_size; ++i) gw[i] += part[i];
  }
}

// gy [N, O, OH, OW] -> gb [O] (assigns); each channel sums in a fixed order.
template <class T>
void conv2d_backward_bias_cpu(const T* gy, T* gb, Conv2dShape s) {
  const int64_t ohw = static_cast<int64_t>(s.OH) * s.OW;
#pragma omp parallel for if (static_cast<int64_t>(s.N) * s.O * ohw > 65536)
  for (int o = 0; o < s.O; ++o) {
    T sum = 0;
    for (int n = 0; n < s.N; ++n) {
      const T* plane = gy + (static_cast<int64_t>(n) * s.O + o) * ohw;
      for (int64_t i = 0; i < ohw; ++i) sum += plane[i];
    }
    gb[o] = sum;
  }
}

}  // namespace

KernelSlot<Conv2dFwdFn> conv2d_forward_kernel{"conv2d_forward", conv2d_forward_cpu<float>,
                                              conv2d_forward_cpu<double>};
KernelSlot<Conv2dBwdInputFn> conv2d_backward_input_kernel{
    "conv2d_backward_input", conv2d_backward_input_cpu<float>, conv2d_backward_input_cpu<double>};
KernelSlot<Conv2dBwdWeightFn> conv2d_backward_weight_kernel{
    "conv2d_backward_weight", conv2d_backward_weight_cpu<float>,
    conv2d_backward_weight_cpu<double>};
KernelSlot<Conv2dBwdBiasFn> conv2d_backward_bias_kernel{
    "conv2d_backward_bias", conv2d_backward_bias_cpu<float>, conv2d_backward_bias_cpu<double>};

static std::string describe_conv(const Tensor& x, const Tensor& w, const Conv2dParams& p) {
  return str("x ", shape_str(x.sizes()), ", w ", shape_str(w.sizes()), ", stride ", p.stride_h,
             ",", p.stride_w, " padding ", p.pad_h, ",", p.pad_w, " dilation ", p.dilation_h, ",",
             p.dilation_w, " groups ", p.groups);
}

Conv2dShape conv2d_shape(const Tensor& x, const Tensor& w, const Conv2dParams& p) {
  NWQ_CHECK(x.defined() && w.defined(), "conv2d: x and w must be defined");
  const std::string what = describe_conv(x, w, p);
  NWQ_CHECK(x.dim() == 4, "conv2d: x must be 4-D [N, C, H, W] (", what, ")");
  NWQ_CHECK(w.dim() == 4, "conv2d: w must be 4-D [O, C/groups, KH, KW] (", what, ")");
  NWQ_CHECK(p.stride_h >= 1 && p.stride_w >= 1 && p.dilation_h >= 1 && p.dilation_w >= 1 &&
                p.pad_h >= 0 && p.pad_w >= 0 && p.groups >= 1,
            "conv2d: stride and dilation must be >= 1, padding >= 0, groups >= 1 (", what, ")");
  for (int64_t d : x.sizes()) NWQ_CHECK(d < (1 << 30), "conv2d: x is too large (", what, ")");
  for (int64_t d : w.sizes()) NWQ_CHECK(d < (1 << 30), "conv2d: w is too large (", what, ")");
  Conv2dShape s;
  s.N = int(x.size(0)), s.C = int(x.size(1)), s.H = int(x.size(2)), s.W = int(x.size(3));
  s.O = int(w.size(0)), s.KH = int(w.size(2)), s.KW = int(w.size(3)), s.p = p;
  NWQ_CHECK(s.C % p.groups == 0 && s.O % p.groups == 0, "conv2d: groups must divide the ",
            s.C, " input and ", s.O, " output channels (", what, ")");
  NWQ_CHECK(w.size(1) * p.groups == s.C, "conv2d: channel mismatch: w expects ", w.size(1),
            " x ", p.groups, " groups input channels, x has ", s.C, " (", what, ")");
  const int64_t eff_h = int64_t(p.dilation_h) * (s.KH - 1) + 1;
  const int64_t eff_w = int64_t(p.dilation_w) * (s.KW - 1) + 1;
  const int64_t padded_h = s.H + 2 * int64_t(p.pad_h), padded_w = s.W + 2 * int64_t(p.pad_w);
  NWQ_CHECK(s.KH >= 1 && s.KW >= 1 && eff_h <= padded_h && eff_w <= padded_w,
            "conv2d: kernel ", eff_h, "x", eff_w, " (dilated) is larger than the padded input ",
            padded_h, "x", padded_w, ": output size would be <= 0 (", what, ")");
  s.OH = int((padded_h - eff_h) / p.stride_h + 1);
  s.OW = int((padded_w - eff_w) / p.stride_w + 1);
  NWQ_CHECK(int64_t(s.C) * s.H * s.W < std::numeric_limits<int>::max() &&
                int64_t(s.O) * s.OH * s.OW < std::numeric_limits<int>::max() &&
                int64_t(s.C) * s.KH * s.KW * s.OH * s.OW < std::numeric_limits<int>::max(),
            "conv2d: one image is too large for BLAS int sizes (", what, ")");
  return s;
}

// Kernel calls; each returns a fresh tensor. `direct`: C/groups == 1 kernels.
static Tensor run_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dShape& s,
                          bool direct) {
  Tensor y = Tensor::empty({s.N, s.O, s.OH, s.OW}, x.dtype(), x.device());
  const auto& slot = direct ? depthwise_conv2d_forward_kernel : conv2d_forward_kernel;
  visit_float(x.dtype(), "conv2d", [&](auto zero) {
    using T = decltype(zero);
    slot.get<T>(x.device())(x.data<T>(), w.data<T>(), b.defined() ? b.data<T>() : nullptr,
                            y.data<T>(), s);
  });
  return y;
}

static std::vector<Tensor> run_backward(const Tensor& gy, const Tensor& x, const Tensor& w,
                                        const Conv2dShape& s, bool direct,
                                        const std::vector<bool>& needs) {
  Tensor gx, gw, gb;
  const DType dt = gy.dtype();
  const Device dev = gy.device();
  visit_float(dt, "conv2d", [&](auto zero) {
    using T = decltype(zero);
    if (needs[0]) {
      gx = Tensor::empty({s.N, s.C, s.H, s.W}, dt, dev);
      const auto& slot = direct ? depthwise_conv2d_backward_input_kernel
                                : conv2d_backward_input_kernel;
      slot.get<T>(dev)(gy.data<T>(), w.data<T>(), gx.data<T>(), s);
    }
    if (needs[1]) {
      gw = Tensor::empty({s.O, s.C / s.p.groups, s.KH, s.KW}, dt, dev);
      const auto& slot = direct ? depthwise_conv2d_backward_weight_kernel
                                : conv2d_backward_weight_kernel;
      slot.get<T>(dev)(x.data<T>(), gy.data<T>(), gw.data<T>(), s);
    }
    if (needs.size() > 2 && needs[2]) {
      gb = Tensor::empty({s.O}, dt, dev);
      conv2d_backward_bias_kernel.get<T>(dev)(gy.data<T>(), gb.data<T>(), s);
    }
  });
  return {gx, gw, gb};
}

Tensor conv2d(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in, const Conv2dParams& p) {
  const Conv2dShape s = conv2d_shape(x_in, w_in, p);
  NWQ_CHECK(!b_in.defined() || (b_in.dim() == 1 && b_in.size(0) == s.O), "conv2d: bias ",
            b_in.defined() ? shape_str(b_in.sizes()) : "", " must be [", s.O, "] (",
            describe_conv(x_in, w_in, p), ")");
  check_same("conv2d", {x_in, w_in, b_in});
  Tensor x = x_in.contiguous(), w = w_in.contiguous();
  Tensor b = b_in.defined() ? b_in.contiguous() : Tensor();
  const bool direct = s.C / p.groups == 1;
  Tensor y = run_forward(x, w, b, s, direct);
  // Edges go to the caller's tensors (contiguous() copies are not recorded by autograd).
  if (should_record({x_in, w_in, b_in})) {
    // Save only what backward reads: x for dW, w for dx.
    Tensor x_saved = w_in.requires_grad() ? x.detach() : Tensor();
    Tensor w_saved = x_in.requires_grad() ? w.detach() : Tensor();
    record("conv2d", {x_in, w_in, b_in}, y,
           [x_saved, w_saved, s, direct](const Tensor& gy, const std::vector<bool>& needs) {
             return run_backward(gy.contiguous(), x_saved, w_saved, s, direct, needs);
           });
  }
  return y;
}

}  // namespace nwq
