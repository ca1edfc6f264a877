// CUDA twins of ops/pool.cpp. Forward: one thread per output cell. Backward: one thread per input
// cell gathering, in (oh, ow) order, the windows that contain it (no atomics, deterministic; max
// pooling reads the saved argmax). Global average: one warp per plane.
#include <cmath>

#include "cuda/block_reduce.cuh"
#include "cuda/fast_divmod.cuh"
#include "ops/pool.h"

namespace nwq {

namespace {

// A window clipped to the input: rows [h0, h1), columns [w0, w1), and its divisor.
struct Window {
  int h0, h1, w0, w1, divisor;
};

// avg_pool2d: the divisor counts padded cells (count_include_pad) but not cells past the padding.
struct AvgRule {
  __device__ static Window window(const Pool2dShape& s, int oh, int ow) {
    const Pool2dParams& p = s.p;
    int h0 = oh * p.stride_h - p.pad_h, w0 = ow * p.stride_w - p.pad_w;
    int h1 = min(h0 + p.kernel_h, s.H + p.pad_h), w1 = min(w0 + p.kernel_w, s.W + p.pad_w);
    const int padded_area = (h1 - h0) * (w1 - w0);
    h0 = max(h0, 0), w0 = max(w0, 0), h1 = min(h1, s.H), w1 = min(w1, s.W);
    const int area = max(0, h1 - h0) * max(0, w1 - w0);
    return {h0, h1, w0, w1, p.count_include_pad ? padded_area : area};
  }
  // Output rows whose window may contain input row h: oh * stride - pad in (h - kernel, h].
  __device__ static void rows(const Pool2dShape& s, int h, int& lo, int& hi) {
    const Pool2dParams& p = s.p;
    const int top = h + p.pad_h - p.kernel_h + 1;  // smallest window start that reaches h
    lo = top <= 0 ? 0 : (top + p.stride_h - 1) / p.stride_h;
    hi = min(s.OH, (h + p.pad_h) / p.stride_h + 1);
  }
  __device__ static void cols(const Pool2dShape& s, int w, int& lo, int& hi) {
    const Pool2dParams& p = s.p;
    const int left = w + p.pad_w - p.kernel_w + 1;
    lo = left <= 0 ? 0 : (left + p.stride_w - 1) / p.stride_w;
    hi = min(s.OW, (w + p.pad_w) / p.stride_w + 1);
  }
};

// adaptive_avg_pool2d: cell i covers [floor(i H / OH), ceil((i + 1) H / OH)).
struct AdaptiveRule {
  __device__ static Window window(const Pool2dShape& s, int oh, int ow) {
    const int h0 = int(int64_t(oh) * s.H / s.OH);
    const int h1 = int((int64_t(oh + 1) * s.H + s.OH - 1) / s.OH);
    const int w0 = int(int64_t(ow) * s.W / s.OW);
    const int w1 = int((int64_t(ow + 1) * s.W + s.OW - 1) / s.OW);
    return {h0, h1, w0, w1, (h1 - h0) * (w1 - w0)};
  }
  // Cells containing h lie in [floor(h OH / H), ceil((h + 1) OH / H)); one more each side is
  // harmless (the window test below rejects it).
  __device__ static void rows(const Pool2dShape& s, int h, int& lo, int& hi) {
    lo = max(0, int(int64_t(h) * s.OH / s.H) - 1);
    hi = min(s.OH, int((int64_t(h + 1) * s.OH + s.H - 1) / s.H) + 1);
  }
  __device__ static void cols(const Pool2dShape& s, int w, int& lo, int& hi) {
    lo = max(0, int(int64_t(w) * s.OW / s.W) - 1);
    hi = min(s.OW, int((int64_t(w + 1) * s.OW + s.W - 1) / s.W) + 1);
  }
};

// Flat index -> (plane, row, column) for a [planes, rows, cols] tensor.
template <class Div>
struct Grid3 {
  Div cols, rows;
  using I = typename IndexOf<Div>::type;
  __device__ void split(I i, I& plane, int& r, int& c) const {
    I rest, cc, rr;
    cols.divmod(i, rest, cc);
    rows.divmod(rest, plane, rr);
    r = int(rr), c = int(cc);
  }
};

// Grid-stride loop bounds: this thread's first flat index and the step.
template <class I>
__device__ __forceinline__ I first_index() {
  return I(blockIdx.x) * blockDim.x + threadIdx.x;
}
template <class I>
__device__ __forceinline__ I grid_step() {
  return I(blockDim.x) * gridDim.x;
}

template <class Rule, class Div>
__global__ void window_mean_forward_kernel(const float* __restrict__ x, float* __restrict__ y,
                                           Pool2dShape s, typename IndexOf<Div>::type total,
                                           Grid3<Div> g) {
  using I = typename IndexOf<Div>::type;
  for (I i = first_index<I>(); i < total; i += grid_step<I>()) {
    I plane;
    int oh, ow;
    g.split(i, plane, oh, ow);
    const Window win = Rule::window(s, oh, ow);
    const float* xp = x + int64_t(plane) * s.H * s.W;
    float sum = 0;
    for (int ih = win.h0; ih < win.h1; ++ih) {
      for (int iw = win.w0; iw < win.w1; ++iw) sum += xp[ih * s.W + iw];
    }
    y[i] = (win.h0 >= win.h1 || win.w0 >= win.w1) ? 0.0f : sum / float(win.divisor);
  }
}

template <class Rule, class Div>
__global__ void window_mean_backward_kernel(const float* __restrict__ gy, float* __restrict__ gx,
                                            Pool2dShape s, typename IndexOf<Div>::type total,
                                            Grid3<Div> g) {
  using I = typename IndexOf<Div>::type;
  for (I i = first_index<I>(); i < total; i += grid_step<I>()) {
    I plane;
    int h, w, oh0, oh1, ow0, ow1;
    g.split(i, plane, h, w);
    Rule::rows(s, h, oh0, oh1);
    Rule::cols(s, w, ow0, ow1);
    const float* gyp = gy + int64_t(plane) * s.OH * s.OW;
    float sum = 0;
    for (int oh = oh0; oh < oh1; ++oh) {
      for (int ow = ow0; ow < ow1; ++ow) {
        const Window win = Rule::window(s, oh, ow);
        if (h < win.h0 || h >= win.h1 || w < win.w0 || w >= win.w1) continue;
        sum += gyp[oh * s.OW + ow] / float(win.divisor);
      }
    }
    gx[i] = sum;
  }
}

// The first maximum of each window (a NaN wins), as the CPU kernel.
template <class Div>
__global__ void max_pool_forward_kernel(const float* __restrict__ x, float* __restrict__ y,
                                        int32_t* __restrict__ idx, Pool2dShape s,
                                        typename IndexOf<Div>::type total, Grid3<Div> g) {
  using I = typename IndexOf<Div>::type;
  const Pool2dParams p = s.p;
  for (I i = first_index<I>(); i < total; i += grid_step<I>()) {
    I plane;
    int oh, ow;
    g.split(i, plane, oh, ow);
    const float* xp = x + int64_t(plane) * s.H * s.W;
    const int h0 = max(oh * p.stride_h - p.pad_h, 0), h1 = min(oh * p.stride_h - p.pad_h + p.kernel_h, s.H);
    const int w0 = max(ow * p.stride_w - p.pad_w, 0), w1 = min(ow * p.stride_w - p.pad_w + p.kernel_w, s.W);
    float best = -INFINITY;
    int best_i = h0 * s.W + w0;
    for (int ih = h0; ih < h1 && !isnan(best); ++ih) {
      for (int iw = w0; iw < w1; ++iw) {
        const float v = xp[ih * s.W + iw];
        if (v > best || isnan(v)) {
          best = v, best_i = ih * s.W + iw;
          if (isnan(v)) break;
        }
      }
    }
    y[i] = best;
    idx[i] = best_i;
  }
}

// gx cell (h, w) = sum, in (oh, ow) order, of gy over the windows whose argmax is (h, w).
template <class Div>
__global__ void max_pool_backward_kernel(const float* __restrict__ gy,
                                         const int32_t* __restrict__ idx, float* __restrict__ gx,
                                         Pool2dShape s, typename IndexOf<Div>::type total,
                                         Grid3<Div> g) {
  using I = typename IndexOf<Div>::type;
  for (I i = first_index<I>(); i < total; i += grid_step<I>()) {
    I plane;
    int h, w, oh0, oh1, ow0, ow1;
    g.split(i, plane, h, w);
    AvgRule::rows(s, h, oh0, oh1);  // the windows (before clipping) that contain (h, w)
    AvgRule::cols(s, w, ow0, ow1);
    const int64_t base = int64_t(plane) * s.OH * s.OW;
    const int32_t me = h * s.W + w;
    float sum = 0;
    for (int oh = oh0; oh < oh1; ++oh) {
      for (int ow = ow0; ow < ow1; ++ow) {
        const int64_t j = base + oh * s.OW + ow;
        if (idx[j] == me) sum += gy[j];
      }
    }
    gx[i] = sum;
  }
}

// y[plane] = mean of x's plane: warp per plane, lanes strided, then the fixed warp tree.
__global__ void global_avg_forward_kernel(const float* __restrict__ x, float* __restrict__ y,
                                          int64_t planes, int64_t hw) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x >> 5);
  for (int64_t pl = int64_t(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5); pl < planes;
       pl += warps) {
    const float* xp = x + pl * hw;
    float sum = 0;
    for (int64_t j = lane; j < hw; j += 32) sum += xp[j];
    sum = warp_sum(sum);
    if (lane == 0) y[pl] = sum / float(hw);
  }
}

struct GlobalAvgBackwardOp {
  const float* gy;
  float* gx;
  int64_t hw;
  __device__ void operator()(int64_t i) const { gx[i] = gy[i / hw] / float(hw); }
};

// Launches kernel<Div32> when every flat index fits 31 bits, else kernel<Div64>.
template <class Launch>
void with_grid(int64_t total, int64_t rows, int64_t cols, Launch launch) {
  if (total < kIndex32Limit) launch(uint32_t(total), Grid3<Div32>{Div32(cols), Div32(rows)});
  else launch(total, Grid3<Div64>{Div64(cols), Div64(rows)});
}

int64_t planes(const Pool2dShape& s) { return int64_t(s.N) * s.C; }

template <class Rule>
void window_mean_forward(const float* x, float* y, const Pool2dShape& s, const char* name) {
  const int64_t total = planes(s) * s.OH * s.OW;
  if (total <= 0) return;
  with_grid(total, s.OH, s.OW, [&](auto n, auto g) {
    window_mean_forward_kernel<Rule><<<grid_for(total), kBlockSize>>>(x, y, s, n, g);
  });
  check_launch(name);
}

template <class Rule>
void window_mean_backward(const float* gy, float* gx, const Pool2dShape& s, const char* name) {
  const int64_t total = planes(s) * s.H * s.W;
  if (total <= 0) return;
  with_grid(total, s.H, s.W, [&](auto n, auto g) {
    window_mean_backward_kernel<Rule><<<grid_for(total), kBlockSize>>>(gy, gx, s, n, g);
  });
  check_launch(name);
}

}  // namespace

// x [N, C, H, W] -> y, idx [N, C, OH, OW] (idx: argmax as ih * W + iw within the plane).
void max_pool2d_forward_cuda(const float* x, float* y, int32_t* idx, Pool2dShape s) {
  const int64_t total = planes(s) * s.OH * s.OW;
  if (total <= 0) return;
  with_grid(total, s.OH, s.OW, [&](auto n, auto g) {
    max_pool_forward_kernel<<<grid_for(total), kBlockSize>>>(x, y, idx, s, n, g);
  });
  check_launch("max_pool2d_forward");
}

// gy, idx [N, C, OH, OW] -> gx [N, C, H, W] (assigns).
void max_pool2d_backward_cuda(const float* gy, const int32_t* idx, float* gx, Pool2dShape s) {
  const int64_t total = planes(s) * s.H * s.W;
  if (total <= 0) return;
  with_grid(total, s.H, s.W, [&](auto n, auto g) {
    max_pool_backward_kernel<<<grid_for(total), kBlockSize>>>(gy, idx, gx, s, n, g);
  });
  check_launch("max_pool2d_backward");
}

void avg_pool2d_forward_cuda(const float* x, float* y, Pool2dShape s) {
  window_mean_forward<AvgRule>(x, y, s, "avg_pool2d_forward");
}
void avg_pool2d_backward_cuda(const float* gy, float* gx, Pool2dShape s) {
  window_mean_backward<AvgRule>(gy, gx, s, "avg_pool2d_backward");
}
void adaptive_avg_pool2d_forward_cuda(const float* x, float* y, Pool2dShape s) {
  window_mean_forward<AdaptiveRule>(x, y, s, "adaptive_avg_pool2d_forward");
}
void adaptive_avg_pool2d_backward_cuda(const float* gy, float* gx, Pool2dShape s) {
  window_mean_backward<AdaptiveRule>(gy, gx, s, "adaptive_avg_pool2d_backward");
}

// x [N, C, H, W] -> y [N * C] plane means.
void global_avg_pool2d_forward_cuda(const float* x, float* y, Pool2dShape s) {
  const int64_t n = planes(s), hw = int64_t(s.H) * s.W;
  if (n <= 0) return;
  const int64_t blocks = std::min<int64_t>((n + 7) / 8, kMaxGrid);
  global_avg_forward_kernel<<<unsigned(blocks), 256>>>(x, y, n, hw);
  check_launch("global_avg_pool2d_forward");
}

// gy [N * C] -> gx [N, C, H, W] = gy / (H W) (assigns).
void global_avg_pool2d_backward_cuda(const float* gy, float* gx, Pool2dShape s) {
  launch_elementwise("global_avg_pool2d_backward", planes(s) * s.H * s.W,
                     GlobalAvgBackwardOp{gy, gx, int64_t(s.H) * s.W});
}

}  // namespace nwq
