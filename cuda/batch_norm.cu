// CUDA twins of ops/batch_norm.cpp's kernels. Every pass runs on a (channel, slice) grid: block
// (c, s) owns the elements s*B + t, s*B + t + S*B, ... of channel c (B threads, S slices, S fixed
// by the shape), so few-channel inputs still fill the GPU. Statistics are two-pass (mean, then
// squared deviations): each block writes a double partial sum to a scratch tensor, and every
// block of the next pass reduces the channel's S partials itself with the fixed block tree
// (deterministic, no atomics, no finishing launch). Sums and per-element maths are in double.
#include <algorithm>

#include "core/tensor.h"
#include "cuda/block_reduce.cuh"
#include "ops/batch_norm.h"

namespace nwq {

constexpr int kBnThreads = 256;
constexpr int64_t kBnPerThread = 16;     // elements per thread aimed at when choosing S
constexpr int64_t kBnTargetBlocks = 2048;  // S shrinks so that c * S stays near this

// Calls f(j) for the flat indices j of channel c (x viewed as [n, c, hw]) at positions
// start, start + step, ... of the channel's n * hw elements (n-major), without a division per
// element.
template <class F>
__device__ __forceinline__ void for_channel(const BatchNormParams& p, int64_t c, int64_t start,
                                            int64_t step, F&& f) {
  if (p.n * p.hw == 0) return;
  int64_t i = start / p.hw, j = start % p.hw;
  const int64_t di = step / p.hw, dj = step % p.hw;
  while (i < p.n) {
    f((i * p.c + c) * p.hw + j);
    i += di;
    j += dj;
    if (j >= p.hw) {
      j -= p.hw;
      ++i;
    }
  }
}

// This block's share of channel blockIdx.x: f(j) for each of its elements.
template <class F>
__device__ __forceinline__ void for_slice(const BatchNormParams& p, F&& f) {
  const int64_t start = int64_t(blockIdx.y) * blockDim.x + threadIdx.x;
  for_channel(p, blockIdx.x, start, int64_t(gridDim.y) * blockDim.x, f);
}

// Sum of f(j) over this block's share, in double, returned to every thread.
template <class F>
__device__ __forceinline__ double slice_sum(const BatchNormParams& p, double* scratch, F&& f) {
  double s = 0;
  for_slice(p, [&](int64_t j) { s += f(j); });
  return block_sum(s, scratch);
}

// Channel c's total of a partial-sum array laid out [c, slices], added in slice order (one
// thread; the eval parameter kernel).
__device__ __forceinline__ double channel_total(const double* partial, int64_t c, int64_t slices) {
  double s = 0;
  for (int64_t k = 0; k < slices; ++k) s += partial[c * slices + k];
  return s;
}

// The same total computed by the whole block (thread t adds slices t, t + B, ..., then the fixed
// block tree), returned to every thread: the same bits in every block of the channel.
__device__ __forceinline__ double channel_total_block(const double* partial, int64_t c,
                                                      int64_t slices, double* scratch) {
  double s = 0;
  for (int64_t k = threadIdx.x; k < slices; k += blockDim.x) s += partial[c * slices + k];
  return block_sum(s, scratch);
}

__device__ __forceinline__ void store_partial(double* partial, double v) {
  if (threadIdx.x == 0) partial[int64_t(blockIdx.x) * gridDim.y + blockIdx.y] = v;
}

// ---------------------------------------------------------------- training forward

// Pass 1: sum_x[c, s] = sum of x over the block's share.
__global__ void bn_sum_x_kernel(const float* x, double* sum_x, BatchNormParams p) {
  __shared__ double scratch[32];
  store_partial(sum_x, slice_sum(p, scratch, [&](int64_t j) { return double(x[j]); }));
}

// Pass 2: sq_dev[c, s] = sum of (x - mean)^2, the mean from pass 1's partials.
__global__ void bn_sum_sq_dev_kernel(const float* x, const double* sum_x, double* sq_dev,
                                     BatchNormParams p) {
  __shared__ double scratch[32];
  const double total = channel_total_block(sum_x, blockIdx.x, gridDim.y, scratch);
  const double mean = total / double(p.n * p.hw);
  store_partial(sq_dev, slice_sum(p, scratch, [&](int64_t j) {
                  const double d = double(x[j]) - mean;
                  return d * d;
                }));
}

// Pass 3: y = (x - mean) * invstd * weight + bias; block (c, 0) also writes the saved stats and
// updates the running stats.
__global__ void bn_normalize_train_kernel(const float* x, const float* weight, const float* bias,
                                          float* y, float* save_mean, float* save_invstd,
                                          float* running_mean, float* running_var,
                                          const double* sum_x, const double* sq_dev_partial,
                                          BatchNormParams p) {
  __shared__ double scratch[32];
  const int64_t c = blockIdx.x, m = p.n * p.hw;
  const double mean = channel_total_block(sum_x, c, gridDim.y, scratch) / m;
  const double sq_dev = channel_total_block(sq_dev_partial, c, gridDim.y, scratch);
  const double invstd = 1.0 / sqrt(sq_dev / m + p.eps);
  const double scale = invstd * (weight ? double(weight[c]) : 1.0);
  const double shift = bias ? double(bias[c]) : 0.0;
  for_slice(p, [&](int64_t j) {
    y[j] = static_cast<float>((double(x[j]) - mean) * scale + shift);
  });
  if (blockIdx.y != 0 || threadIdx.x != 0) return;
  save_mean[c] = static_cast<float>(mean);
  save_invstd[c] = static_cast<float>(invstd);
  if (running_mean) {  // the op layer guarantees m > 1 in training mode
    running_mean[c] =
        static_cast<float>((1 - p.momentum) * double(running_mean[c]) + p.momentum * mean);
    running_var[c] = static_cast<float>((1 - p.momentum) * double(running_var[c]) +
                                        p.momentum * sq_dev / (m - 1));
  }
}

// ---------------------------------------------------------------- backward

// sum_gy[c, s] = sum of gy, sum_gy_dev[c, s] = sum of gy * (x - mean[c]) (skipped when x is
// null), over the block's share. mean: the saved batch mean or the running mean.
__global__ void bn_sum_grad_kernel(const float* x, const float* gy, const float* mean_of,
                                   double* sum_gy, double* sum_gy_dev, BatchNormParams p) {
  __shared__ double scratch[32];
  store_partial(sum_gy, slice_sum(p, scratch, [&](int64_t j) { return double(gy[j]); }));
  if (!x) return;
  const double mean = mean_of[blockIdx.x];
  store_partial(sum_gy_dev, slice_sum(p, scratch, [&](int64_t j) {
                  return double(gy[j]) * (double(x[j]) - mean);
                }));
}

// Training: with xhat = (x - mean) * invstd and M = n * hw, gbias = sum(gy),
// gweight = sum(gy * xhat), gx = weight * invstd * (gy - gbias / M - xhat * gweight / M).
// Block (c, 0) writes gweight / gbias; gx (when not null) over each block's share.
__global__ void bn_grad_train_kernel(const float* x, const float* weight, const float* gy,
                                     const float* save_mean, const float* save_invstd, float* gx,
                                     float* gweight, float* gbias, const double* sum_gy_partial,
                                     const double* sum_gy_dev_partial, int64_t slices,
                                     BatchNormParams p) {
  __shared__ double scratch[32];
  const int64_t c = blockIdx.x, m = p.n * p.hw;
  const double mean = save_mean[c], invstd = save_invstd[c];
  const double sum_gy = channel_total_block(sum_gy_partial, c, slices, scratch);
  const double sum_gy_xhat = channel_total_block(sum_gy_dev_partial, c, slices, scratch) * invstd;
  if (blockIdx.y == 0 && threadIdx.x == 0) {
    if (gbias) gbias[c] = static_cast<float>(sum_gy);
    if (gweight) gweight[c] = static_cast<float>(sum_gy_xhat);
  }
  if (!gx) return;
  const double k = (weight ? double(weight[c]) : 1.0) * invstd;
  const double mean_gy = sum_gy / m, mean_gy_xhat = sum_gy_xhat / m;
  for_slice(p, [&](int64_t j) {
    gx[j] = static_cast<float>(
        k * (double(gy[j]) - mean_gy - (double(x[j]) - mean) * invstd * mean_gy_xhat));
  });
}

// Eval: gbias = sum(gy), gweight = invstd * sum(gy * (x - running_mean)); one thread a channel.
__global__ void bn_grad_eval_params_kernel(const float* running_var, float* gweight, float* gbias,
                                           const double* sum_gy, const double* sum_gy_dev,
                                           int64_t slices, BatchNormParams p) {
  const int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= p.c) return;
  if (gbias) gbias[c] = static_cast<float>(channel_total(sum_gy, c, slices));
  if (!gweight) return;
  const double invstd = 1.0 / sqrt(double(running_var[c]) + p.eps);
  gweight[c] = static_cast<float>(invstd * channel_total(sum_gy_dev, c, slices));
}

// Eval mode's per-channel affine map out = (in - mean) * weight / sqrt(running_var + eps) + bias.
// Forward: in = x, mean = running_mean. Backward: in = gy, running_mean and bias null (mean 0,
// bias 0), so out = gx = gy * weight * invstd.
__global__ void bn_eval_map_kernel(const float* in, const float* weight, const float* bias,
                                   const float* running_mean, const float* running_var,
                                   float* out, BatchNormParams p) {
  const int64_t c = blockIdx.x;
  const double mean = running_mean ? double(running_mean[c]) : 0.0;
  const double scale = (weight ? double(weight[c]) : 1.0) / sqrt(double(running_var[c]) + p.eps);
  const double shift = bias ? double(bias[c]) : 0.0;
  for_slice(p, [&](int64_t j) {
    out[j] = static_cast<float>((double(in[j]) - mean) * scale + shift);
  });
}

// ---------------------------------------------------------------- host side

// The (channel, slice) grid: S depends on the shape only, so sums are reproducible.
static dim3 channel_grid(const char* name, const BatchNormParams& p) {
  NWQ_CHECK(p.c < (int64_t(1) << 31), name, ": ", p.c, " channels exceed the CUDA grid");
  const int64_t m = p.n * p.hw;
  int64_t slices = (m + kBnThreads * kBnPerThread - 1) / (kBnThreads * kBnPerThread);
  slices = std::min(slices, std::max<int64_t>(1, kBnTargetBlocks / p.c));
  return dim3(unsigned(p.c), unsigned(std::clamp<int64_t>(slices, 1, 65535)));
}

// Double scratch for `count` partial-sum arrays of the grid's c * S entries each.
static Tensor partials(dim3 grid, int count) {
  return Tensor::empty({int64_t(grid.x) * grid.y * count}, DType::F64, Device::cuda());
}

void batch_norm_forward_train_cuda(const float* x, const float* weight, const float* bias,
                                   float* y, float* save_mean, float* save_invstd,
                                   float* running_mean, float* running_var, BatchNormParams p) {
  if (p.c == 0) return;
  const dim3 grid = channel_grid("batch_norm_forward_train", p);
  Tensor scratch = partials(grid, 2);
  double* sum_x = scratch.data<double>();
  double* sq_dev = sum_x + int64_t(grid.x) * grid.y;
  bn_sum_x_kernel<<<grid, kBnThreads>>>(x, sum_x, p);
  check_launch("batch_norm_forward_train (mean)");
  bn_sum_sq_dev_kernel<<<grid, kBnThreads>>>(x, sum_x, sq_dev, p);
  check_launch("batch_norm_forward_train (variance)");
  bn_normalize_train_kernel<<<grid, kBnThreads>>>(x, weight, bias, y, save_mean, save_invstd,
                                                  running_mean, running_var, sum_x, sq_dev, p);
  check_launch("batch_norm_forward_train");
}

void batch_norm_forward_eval_cuda(const float* x, const float* weight, const float* bias,
                                  const float* running_mean, const float* running_var, float* y,
                                  BatchNormParams p) {
  if (p.c == 0 || p.n * p.hw == 0) return;
  bn_eval_map_kernel<<<channel_grid("batch_norm_forward_eval", p), kBnThreads>>>(
      x, weight, bias, running_mean, running_var, y, p);
  check_launch("batch_norm_forward_eval");
}

void batch_norm_backward_train_cuda(const float* x, const float* weight, const float* gy,
                                    const float* save_mean, const float* save_invstd, float* gx,
                                    float* gweight, float* gbias, BatchNormParams p) {
  if (p.c == 0 || (!gx && !gweight && !gbias)) return;
  const dim3 grid = channel_grid("batch_norm_backward_train", p);
  Tensor scratch = partials(grid, 2);
  double* sum_gy = scratch.data<double>();
  double* sum_gy_dev = sum_gy + int64_t(grid.x) * grid.y;
  bn_sum_grad_kernel<<<grid, kBnThreads>>>(x, gy, save_mean, sum_gy, sum_gy_dev, p);
  check_launch("batch_norm_backward_train (sums)");
  // Without gx only blocks (c, 0) have work (gweight, gbias).
  const dim3 grad_grid(grid.x, gx ? grid.y : 1);
  bn_grad_train_kernel<<<grad_grid, kBnThreads>>>(x, weight, gy, save_mean, save_invstd, gx,
                                                  gweight, gbias, sum_gy, sum_gy_dev, grid.y, p);
  check_launch("batch_norm_backward_train");
}

void batch_norm_backward_eval_cuda(const float* x, const float* weight, const float* gy,
                                   const float* running_mean, const float* running_var, float* gx,
                                   float* gweight, float* gbias, BatchNormParams p) {
  if (p.c == 0) return;
  const dim3 grid = channel_grid("batch_norm_backward_eval", p);
  if (gweight || gbias) {
    Tensor scratch = partials(grid, 2);
    double* sum_gy = scratch.data<double>();
    double* sum_gy_dev = sum_gy + int64_t(grid.x) * grid.y;
    bn_sum_grad_kernel<<<grid, kBnThreads>>>(gweight ? x : nullptr, gy, running_mean, sum_gy,
                                             sum_gy_dev, p);
    check_launch("batch_norm_backward_eval (sums)");
    bn_grad_eval_params_kernel<<<unsigned((p.c + kBnThreads - 1) / kBnThreads), kBnThreads>>>(
        running_var, gweight, gbias, sum_gy, sum_gy_dev, grid.y, p);
    check_launch("batch_norm_backward_eval (weight, bias)");
  }
  if (gx && p.n * p.hw > 0) {
    bn_eval_map_kernel<<<grid, kBnThreads>>>(gy, weight, nullptr, nullptr, running_var, gx, p);
    check_launch("batch_norm_backward_eval");
  }
}

}  // namespace nwq
