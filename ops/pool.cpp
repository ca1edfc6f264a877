// Pooling: output-size rules, CPU kernels (one plane per OpenMP iteration, so backward scatters
// never race) and autograd wiring. Average-style pools share one kernel pair over a window rule.
#include "ops/pool.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "autograd/node.h"

namespace nwq {

namespace {

int64_t planes(const Pool2dShape& s) { return static_cast<int64_t>(s.N) * s.C; }
bool worth_threads(const Pool2dShape& s) { return planes(s) * s.H * s.W > 65536; }

// A window clipped to the input: rows [h0, h1), columns [w0, w1), and its divisor.
struct Window {
  int h0, h1, w0, w1, divisor;
  bool empty() const { return h0 >= h1 || w0 >= w1; }
};

// avg_pool2d (PyTorch): the divisor counts padded cells (count_include_pad) but never cells past
// the padding, which ceil_mode's last window can reach.
Window avg_window(const Pool2dShape& s, int oh, int ow) {
  const Pool2dParams& p = s.p;
  int h0 = oh * p.stride_h - p.pad_h, w0 = ow * p.stride_w - p.pad_w;
  int h1 = std::min(h0 + p.kernel_h, s.H + p.pad_h), w1 = std::min(w0 + p.kernel_w, s.W + p.pad_w);
  const int padded_area = (h1 - h0) * (w1 - w0);
  h0 = std::max(h0, 0), w0 = std::max(w0, 0), h1 = std::min(h1, s.H), w1 = std::min(w1, s.W);
  const int area = std::max(0, h1 - h0) * std::max(0, w1 - w0);
  return {h0, h1, w0, w1, p.count_include_pad ? padded_area : area};
}

// adaptive_avg_pool2d: cell i covers [floor(i H / OH), ceil((i + 1) H / OH)).
Window adaptive_window(const Pool2dShape& s, int oh, int ow) {
  const int h0 = int(int64_t(oh) * s.H / s.OH), h1 = int((int64_t(oh + 1) * s.H + s.OH - 1) / s.OH);
  const int w0 = int(int64_t(ow) * s.W / s.OW), w1 = int((int64_t(ow + 1) * s.W + s.OW - 1) / s.OW);
  return {h0, h1, w0, w1, (h1 - h0) * (w1 - w0)};
}

using WindowRule = Window (*)(const Pool2dShape&, int, int);

// x [N, C, H, W] -> y [N, C, OH, OW]: each cell is its window's sum / divisor (0 if empty).
template <class T, WindowRule rule>
void window_mean_forward_cpu(const T* x, T* y, Pool2dShape s) {
#pragma omp parallel for schedule(static) if (worth_threads(s))
  for (int64_t i = 0; i < planes(s); ++i) {
    const T* xp = x + i * s.H * s.W;
    T* yp = y + i * s.OH * s.OW;
    for (int oh = 0; oh < s.OH; ++oh) {
      for (int ow = 0; ow < s.OW; ++ow) {
        const Window win = rule(s, oh, ow);
        T sum = 0;
        for (int ih = win.h0; ih < win.h1; ++ih) {
          for (int iw = win.w0; iw < win.w1; ++iw) sum += xp[ih * s.W + iw];
        }
        yp[oh * s.OW + ow] = win.empty() ? T(0) : sum / T(win.divisor);
      }
    }
  }
}

// gy [N, C, OH, OW] -> gx [N, C, H, W] (assigns): each window's cells get gy / divisor.
template <class T, WindowRule rule>
void window_mean_backward_cpu(const T* gy, T* gx, Pool2dShape s) {
#pragma omp parallel for schedule(static) if (worth_threads(s))
  for (int64_t i = 0; i < planes(s); ++i) {
    const T* gyp = gy + i * s.OH * s.OW;
    T* gxp = gx + i * s.H * s.W;
    std::fill_n(gxp, s.H * s.W, T(0));
    for (int oh = 0; oh < s.OH; ++oh) {
      for (int ow = 0; ow < s.OW; ++ow) {
        const Window win = rule(s, oh, ow);
        if (win.empty()) continue;
        const T g = gyp[oh * s.OW + ow] / T(win.divisor);
        for (int ih = win.h0; ih < win.h1; ++ih) {
          for (int iw = win.w0; iw < win.w1; ++iw) gxp[ih * s.W + iw] += g;
        }
      }
    }
  }
}

// x [N, C, H, W] -> y, idx [N, C, OH, OW]: the first maximum of each window (a NaN wins).
template <class T>
void max_pool2d_forward_cpu(const T* x, T* y, int32_t* idx, Pool2dShape s) {
  const Pool2dParams& p = s.p;
#pragma omp parallel for schedule(static) if (worth_threads(s))
  for (int64_t i = 0; i < planes(s); ++i) {
    const T* xp = x + i * s.H * s.W;
    for (int oh = 0; oh < s.OH; ++oh) {
      const int h0 = std::max(oh * p.stride_h - p.pad_h, 0);
      const int h1 = std::min(oh * p.stride_h - p.pad_h + p.kernel_h, s.H);
      for (int ow = 0; ow < s.OW; ++ow) {
        const int w0 = std::max(ow * p.stride_w - p.pad_w, 0);
        const int w1 = std::min(ow * p.stride_w - p.pad_w + p.kernel_w, s.W);
        T best = -std::numeric_limits<T>::infinity();
        int32_t best_i = h0 * s.W + w0;
        for (int ih = h0; ih < h1 && !std::isnan(best); ++ih) {
          for (int iw = w0; iw < w1; ++iw) {
            const T v = xp[ih * s.W + iw];
            if (v > best || std::isnan(v)) {
              best = v, best_i = ih * s.W + iw;
              if (std::isnan(v)) break;
            }
          }
        }
        y[i * s.OH * s.OW + oh * s.OW + ow] = best;
        idx[i * s.OH * s.OW + oh * s.OW + ow] = best_i;
      }
    }
  }
}

// gy, idx [N, C, OH, OW] -> gx [N, C, H, W] (assigns): gradients go to the argmax cells.
template <class T>
void max_pool2d_backward_cpu(const T* gy, const int32_t* idx, T* gx, Pool2dShape s) {
  const int64_t out_plane = int64_t(s.OH) * s.OW;
#pragma omp parallel for schedule(static) if (worth_threads(s))
  for (int64_t i = 0; i < planes(s); ++i) {
    T* gxp = gx + i * s.H * s.W;
    std::fill_n(gxp, s.H * s.W, T(0));
    for (int64_t j = i * out_plane; j < (i + 1) * out_plane; ++j) gxp[idx[j]] += gy[j];
  }
}

// x [N, C, H, W] -> y [N, C] = plane means.
template <class T>
void global_avg_pool2d_forward_cpu(const T* x, T* y, Pool2dShape s) {
  const int64_t hw = int64_t(s.H) * s.W;
#pragma omp parallel for schedule(static) if (worth_threads(s))
  for (int64_t i = 0; i < planes(s); ++i) {
    T sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < hw; ++j) sum += x[i * hw + j];
    y[i] = sum / T(hw);
  }
}

// gy [N, C] -> gx [N, C, H, W] = gy / (H W) (assigns).
template <class T>
void global_avg_pool2d_backward_cpu(const T* gy, T* gx, Pool2dShape s) {
  const int64_t hw = int64_t(s.H) * s.W;
#pragma omp parallel for schedule(static) if (worth_threads(s))
  for (int64_t i = 0; i < planes(s); ++i) std::fill_n(gx + i * hw, hw, gy[i] / T(hw));
}

}  // namespace

KernelSlot<MaxPoolFwdFn> max_pool2d_forward_kernel{
    "max_pool2d_forward", max_pool2d_forward_cpu<float>, max_pool2d_forward_cpu<double>};
KernelSlot<MaxPoolBwdFn> max_pool2d_backward_kernel{
    "max_pool2d_backward", max_pool2d_backward_cpu<float>, max_pool2d_backward_cpu<double>};
KernelSlot<PoolFwdFn> avg_pool2d_forward_kernel{"avg_pool2d_forward",
                                                window_mean_forward_cpu<float, avg_window>,
                                                window_mean_forward_cpu<double, avg_window>};
KernelSlot<PoolBwdFn> avg_pool2d_backward_kernel{"avg_pool2d_backward",
                                                 window_mean_backward_cpu<float, avg_window>,
                                                 window_mean_backward_cpu<double, avg_window>};
KernelSlot<PoolFwdFn> adaptive_avg_pool2d_forward_kernel{
    "adaptive_avg_pool2d_forward", window_mean_forward_cpu<float, adaptive_window>,
    window_mean_forward_cpu<double, adaptive_window>};
KernelSlot<PoolBwdFn> adaptive_avg_pool2d_backward_kernel{
    "adaptive_avg_pool2d_backward", window_mean_backward_cpu<float, adaptive_window>,
    window_mean_backward_cpu<double, adaptive_window>};
KernelSlot<PoolFwdFn> global_avg_pool2d_forward_kernel{
    "global_avg_pool2d_forward", global_avg_pool2d_forward_cpu<float>,
    global_avg_pool2d_forward_cpu<double>};
KernelSlot<PoolBwdFn> global_avg_pool2d_backward_kernel{
    "global_avg_pool2d_backward", global_avg_pool2d_backward_cpu<float>,
    global_avg_pool2d_backward_cpu<double>};

// PyTorch's pooling_output_shape (dilation 1).
static int64_t pool_out_size(int64_t in, int k, int stride, int pad, bool ceil_mode) {
  const int64_t span = in + 2 * pad - k + (ceil_mode ? stride - 1 : 0);
  int64_t out = (span >= 0 ? span / stride : -((-span + stride - 1) / stride)) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

static Pool2dShape input_shape(const char* op, const Tensor& x) {
  NWQ_CHECK(x.defined(), op, ": x is undefined");
  NWQ_CHECK(x.dim() == 4, op, ": x must be 4-D [N, C, H, W], got ", shape_str(x.sizes()));
  NWQ_CHECK(x.numel() < std::numeric_limits<int32_t>::max(), op, ": x ", shape_str(x.sizes()),
            " is too large");
  Pool2dShape s;
  s.N = int(x.size(0)), s.C = int(x.size(1)), s.H = int(x.size(2)), s.W = int(x.size(3));
  return s;
}

static Pool2dShape pool_shape(const char* op, const Tensor& x, const Pool2dParams& p) {
  Pool2dShape s = input_shape(op, x);
  const std::string what = str("x ", shape_str(x.sizes()), ", kernel ", p.kernel_h, "x",
                               p.kernel_w, ", stride ", p.stride_h, "x", p.stride_w,
                               ", padding ", p.pad_h, "x", p.pad_w);
  NWQ_CHECK(p.kernel_h >= 1 && p.kernel_w >= 1 && p.stride_h >= 1 && p.stride_w >= 1, op,
            ": kernel and stride must be >= 1 (", what, ")");
  NWQ_CHECK(p.pad_h >= 0 && p.pad_w >= 0 && 2 * p.pad_h <= p.kernel_h && 2 * p.pad_w <= p.kernel_w,
            op, ": padding must be >= 0 and at most half the kernel (", what, ")");
  const int64_t oh = pool_out_size(s.H, p.kernel_h, p.stride_h, p.pad_h, p.ceil_mode);
  const int64_t ow = pool_out_size(s.W, p.kernel_w, p.stride_w, p.pad_w, p.ceil_mode);
  NWQ_CHECK(oh >= 1 && ow >= 1, op, ": output size ", oh, "x", ow,
            " is <= 0: kernel larger than the padded input (", what, ")");
  s.OH = int(oh), s.OW = int(ow), s.p = p;
  return s;
}

// Runs an average-style pool and records its backward (which reads no saved tensors).
static Tensor mean_pool(const char* op, const KernelSlot<PoolFwdFn>& fwd,
                        const KernelSlot<PoolBwdFn>& bwd, const Tensor& x_in, Pool2dShape s) {
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty({s.N, s.C, s.OH, s.OW}, x.dtype(), x.device());
  visit_float(x.dtype(), op, [&](auto zero) {
    using T = decltype(zero);
    fwd.get<T>(x.device())(x.data<T>(), y.data<T>(), s);
  });
  if (should_record({x_in})) {
    const KernelSlot<PoolBwdFn>* back = &bwd;
    record(op, {x_in}, y, [op, back, s](const Tensor& gy_in, const std::vector<bool>&) {
      Tensor gy = gy_in.contiguous();
      Tensor gx = Tensor::empty({s.N, s.C, s.H, s.W}, gy.dtype(), gy.device());
      visit_float(gy.dtype(), op, [&](auto zero) {
        using T = decltype(zero);
        back->get<T>(gy.device())(gy.data<T>(), gx.data<T>(), s);
      });
      return std::vector<Tensor>{gx};
    });
  }
  return y;
}

Tensor avg_pool2d(const Tensor& x, const Pool2dParams& p) {
  return mean_pool("avg_pool2d", avg_pool2d_forward_kernel, avg_pool2d_backward_kernel, x,
                   pool_shape("avg_pool2d", x, p));
}

Tensor adaptive_avg_pool2d(const Tensor& x, int out_h, int out_w) {
  Pool2dShape s = input_shape("adaptive_avg_pool2d", x);
  NWQ_CHECK(out_h >= 1 && out_w >= 1 && s.H >= 1 && s.W >= 1, "adaptive_avg_pool2d: output ",
            out_h, "x", out_w, " and input ", shape_str(x.sizes()), " must be non-empty");
  s.OH = out_h, s.OW = out_w;
  if (out_h == 1 && out_w == 1) {
    return mean_pool("adaptive_avg_pool2d", global_avg_pool2d_forward_kernel,
                     global_avg_pool2d_backward_kernel, x, s);
  }
  return mean_pool("adaptive_avg_pool2d", adaptive_avg_pool2d_forward_kernel,
                   adaptive_avg_pool2d_backward_kernel, x, s);
}

Tensor global_avg_pool2d(const Tensor& x) { return adaptive_avg_pool2d(x, 1, 1); }

Tensor max_pool2d(const Tensor& x_in, const Pool2dParams& p) {
  const Pool2dShape s = pool_shape("max_pool2d", x_in, p);
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty({s.N, s.C, s.OH, s.OW}, x.dtype(), x.device());
  Tensor idx = Tensor::empty({s.N, s.C, s.OH, s.OW}, DType::I32, x.device());
  visit_float(x.dtype(), "max_pool2d", [&](auto zero) {
    using T = decltype(zero);
    max_pool2d_forward_kernel.get<T>(x.device())(x.data<T>(), y.data<T>(),
                                                 idx.data<int32_t>(), s);
  });
  if (should_record({x_in})) {
    record("max_pool2d", {x_in}, y, [idx, s](const Tensor& gy_in, const std::vector<bool>&) {
      Tensor gy = gy_in.contiguous();
      Tensor gx = Tensor::empty({s.N, s.C, s.H, s.W}, gy.dtype(), gy.device());
      visit_float(gy.dtype(), "max_pool2d", [&](auto zero) {
        using T = decltype(zero);
        max_pool2d_backward_kernel.get<T>(gy.device())(gy.data<T>(), idx.data<int32_t>(),
                                                       gx.data<T>(), s);
      });
      return std::vector<Tensor>{gx};
    });
  }
  return y;
}

}  // namespace nwq
