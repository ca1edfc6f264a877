// CUDA twins of ops/loss.cpp's kernels: log_softmax, fused softmax-cross-entropy and fused mse.
// Row ops give each row a group of threads (a warp for rows up to kWarpRowCols, else a block);
// sums are in double as on the CPU, in a fixed shuffle-tree order; batch means and mse's chunk
// partials are finished by one block in a fixed order. No atomics.
#include <algorithm>
#include <cmath>

#include "cuda/block_reduce.cuh"
#include "ops/loss.h"

namespace nwq {

constexpr int kRowThreads = 256;        // threads per block of the row kernels
constexpr int64_t kWarpRowCols = 1024;  // rows up to this long get a warp, longer ones a block
constexpr int kFinishThreads = 1024;    // the one block that finishes a batch mean

// Sum / max over the G threads that share a row (G = 32: a warp, G = blockDim.x: the block).
template <int G, class T>
__device__ __forceinline__ T group_sum(T v, T* scratch) {
  if constexpr (G == 32) return warp_sum(v);
  else return block_sum(v, scratch);
}
template <int G, class T>
__device__ __forceinline__ T group_max(T v, T* scratch) {
  if constexpr (G == 32) return warp_max(v);
  else return block_max(v, scratch);
}

// Calls f(row, lane) for each row owned by this thread's group. With G == blockDim.x the loop
// is uniform over the block, so f may synchronize the block.
template <int G, class F>
__device__ __forceinline__ void for_each_row(int64_t rows, F&& f) {
  const int64_t groups = blockDim.x / G;
  const int lane = threadIdx.x % G;
  for (int64_t r = blockIdx.x * groups + threadIdx.x / G; r < rows; r += gridDim.x * groups) {
    f(r, lane);
  }
}

// The largest element of the row (the CPU's `row[j] > m` scan; the order does not matter).
template <int G>
__device__ __forceinline__ float row_max(const float* row, int64_t cols, int lane, float* scratch) {
  float m = -INFINITY;
  for (int64_t j = lane; j < cols; j += G) m = row[j] > m ? row[j] : m;
  return group_max<G>(m, scratch);
}

template <int G>
__device__ __forceinline__ double row_sum_exp(const float* row, int64_t cols, double max,
                                              int lane, double* scratch) {
  double s = 0;
  for (int64_t j = lane; j < cols; j += G) s += exp(double(row[j]) - max);
  return group_sum<G>(s, scratch);
}

template <int G>
__global__ void log_softmax_forward_rows(const float* x, float* y, int64_t rows, int64_t cols) {
  __shared__ float fscratch[32];
  __shared__ double dscratch[32];
  for_each_row<G>(rows, [&](int64_t r, int lane) {
    const float* row = x + r * cols;
    const double max = row_max<G>(row, cols, lane, fscratch);
    const double log_sum = log(row_sum_exp<G>(row, cols, max, lane, dscratch));
    for (int64_t j = lane; j < cols; j += G) {
      y[r * cols + j] = static_cast<float>((double(row[j]) - max) - log_sum);
    }
  });
}

template <int G>
__global__ void log_softmax_backward_rows(const float* y, const float* gy, float* gx,
                                          int64_t rows, int64_t cols) {
  __shared__ double dscratch[32];
  for_each_row<G>(rows, [&](int64_t r, int lane) {
    const int64_t base = r * cols;
    double s = 0;
    for (int64_t j = lane; j < cols; j += G) s += double(gy[base + j]);
    const double sum_gy = group_sum<G>(s, dscratch);
    for (int64_t j = lane; j < cols; j += G) {
      gx[base + j] = static_cast<float>(double(gy[base + j]) - exp(double(y[base + j])) * sum_gy);
    }
  });
}

// Per row, with z shifted by its max m: loss = log(sum exp(z - m)) - (1 - e)(z_t - m)
// - (e / K) sum_k (z_k - m), as on the CPU.
template <int G>
__global__ void cross_entropy_forward_rows(const float* logits, const int64_t* target, float* lse,
                                           float* row_loss, CrossEntropyParams p) {
  __shared__ float fscratch[32];
  __shared__ double dscratch[32];
  const double e = p.label_smoothing;
  for_each_row<G>(p.n, [&](int64_t i, int lane) {
    const float* row = logits + i * p.k;
    const double max = row_max<G>(row, p.k, lane, fscratch);
    const double log_sum = log(row_sum_exp<G>(row, p.k, max, lane, dscratch));
    double s = 0;
    for (int64_t j = lane; j < p.k; j += G) s += double(row[j]) - max;
    const double sum_shifted = group_sum<G>(s, dscratch);
    if (lane == 0) {
      lse[i] = static_cast<float>(max + log_sum);
      row_loss[i] = static_cast<float>(log_sum - (1 - e) * (double(row[target[i]]) - max) -
                                       e / p.k * sum_shifted);
    }
  });
}

// out[0] = (sum of double(v[i]) for i < n) / divisor; one block of kFinishThreads.
__global__ void mean_of_kernel(const float* v, int64_t n, double divisor, float* out) {
  __shared__ double scratch[32];
  double s = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += double(v[i]);
  s = block_sum(s, scratch);
  if (threadIdx.x == 0) *out = static_cast<float>(s / divisor);
}

template <int G>
__global__ void cross_entropy_backward_rows(const float* logits, const int64_t* target,
                                            const float* lse, const float* gloss,
                                            float* glogits, CrossEntropyParams p) {
  const double scale = double(*gloss) / p.n;
  const double off = p.label_smoothing / p.k;  // smoothed one-hot, wrong classes
  const double on = 1 - p.label_smoothing + off;  // smoothed one-hot, the target
  for_each_row<G>(p.n, [&](int64_t i, int lane) {
    const int64_t t = target[i];
    const double l = lse[i];
    for (int64_t j = lane; j < p.k; j += G) {
      const double prob = exp(double(logits[i * p.k + j]) - l);
      glogits[i * p.k + j] = static_cast<float>((prob - (j == t ? on : off)) * scale);
    }
  });
}

// Launches kernel<32> (a warp a row) or kernel<kRowThreads> (a block a row) for `rows` rows.
template <class WarpKernel, class BlockKernel, class... Args>
static void launch_rows(const char* name, int64_t rows, int64_t cols, WarpKernel warp_kernel,
                        BlockKernel block_kernel, Args... args) {
  if (rows <= 0) return;
  if (cols <= kWarpRowCols) {
    const int64_t per_block = kRowThreads / 32;
    const int64_t blocks = std::min<int64_t>((rows + per_block - 1) / per_block, kMaxGrid);
    warp_kernel<<<unsigned(blocks), kRowThreads>>>(args...);
  } else {
    block_kernel<<<unsigned(std::min<int64_t>(rows, kMaxGrid)), kRowThreads>>>(args...);
  }
  check_launch(name);
}

void log_softmax_forward_cuda(const float* x, float* y, RowsParams p) {
  launch_rows("log_softmax_forward", p.rows, p.cols, log_softmax_forward_rows<32>,
              log_softmax_forward_rows<kRowThreads>, x, y, p.rows, p.cols);
}

void log_softmax_backward_cuda(const float* y, const float* gy, float* gx, RowsParams p) {
  launch_rows("log_softmax_backward", p.rows, p.cols, log_softmax_backward_rows<32>,
              log_softmax_backward_rows<kRowThreads>, y, gy, gx, p.rows, p.cols);
}

void cross_entropy_forward_cuda(const float* logits, const int64_t* target, float* lse,
                                float* row_loss, float* loss, CrossEntropyParams p) {
  launch_rows("cross_entropy_forward", p.n, p.k, cross_entropy_forward_rows<32>,
              cross_entropy_forward_rows<kRowThreads>, logits, target, lse, row_loss, p);
  mean_of_kernel<<<1, kFinishThreads>>>(row_loss, p.n, double(p.n), loss);
  check_launch("cross_entropy_forward (mean)");
}

void cross_entropy_backward_cuda(const float* logits, const int64_t* target, const float* lse,
                                 const float* gloss, float* glogits, CrossEntropyParams p) {
  launch_rows("cross_entropy_backward", p.n, p.k, cross_entropy_backward_rows<32>,
              cross_entropy_backward_rows<kRowThreads>, logits, target, lse, gloss, glogits, p);
}

// ---------------------------------------------------------------- mse

// Block c: partial[c] = sum over its chunk of (a - b)^2, in double, rounded to float as on the CPU.
__global__ void mse_partial_kernel(const float* a, const float* b, float* partial, MseParams p) {
  __shared__ double scratch[32];
  const int64_t c = blockIdx.x;
  const int64_t end = min(p.n, (c + 1) * p.chunk);
  double s = 0;
  for (int64_t i = c * p.chunk + threadIdx.x; i < end; i += blockDim.x) {
    const double d = double(a[i]) - double(b[i]);
    s += d * d;
  }
  s = block_sum(s, scratch);
  if (threadIdx.x == 0) partial[c] = static_cast<float>(s);
}

struct MseBackwardOp {
  const float* a;
  const float* b;
  const float* gloss;
  float* ga;
  float* gb;
  int64_t n;
  __device__ void operator()(int64_t i) const {
    const double scale = 2.0 * double(*gloss) / n;
    const double g = scale * (double(a[i]) - double(b[i]));
    if (ga) ga[i] = static_cast<float>(g);
    if (gb) gb[i] = static_cast<float>(-g);
  }
};

void mse_loss_forward_cuda(const float* a, const float* b, float* partial, float* loss,
                           MseParams p) {
  if (p.num_chunks <= 0) return;
  NWQ_CHECK(p.num_chunks < (int64_t(1) << 31), "mse_loss_forward: ", p.num_chunks,
            " chunks exceed the CUDA grid");
  mse_partial_kernel<<<unsigned(p.num_chunks), kRowThreads>>>(a, b, partial, p);
  check_launch("mse_loss_forward");
  mean_of_kernel<<<1, kFinishThreads>>>(partial, p.num_chunks, double(p.n), loss);
  check_launch("mse_loss_forward (mean)");
}

void mse_loss_backward_cuda(const float* a, const float* b, const float* gloss, float* ga,
                            float* gb, MseParams p) {
  if (!ga && !gb) return;
  launch_elementwise("mse_loss_backward", p.n, MseBackwardOp{a, b, gloss, ga, gb, p.n});
}

}  // namespace nwq
