// Losses and classification metrics: log_softmax, fused softmax-cross-entropy (with PyTorch's
// label smoothing), fused mean squared error, and the top-1 / top-k counters used in evaluation.
#pragma once
#include "ops/dispatch.h"

namespace nwq {

// log(softmax(x)) along the last dim (x: (..., K), usually (N, K)); stable: the row max is
// subtracted before exp.
Tensor log_softmax(const Tensor& x);

// Mean over the batch of the cross entropy between softmax(logits) (N, K) and the classes in
// target (N, I64, each in [0, K)). With label smoothing e (PyTorch's definition):
//   loss_i = (1 - e) * (-log p[i, target_i]) + e * mean_k(-log p[i, k]).
// Returns a scalar (shape []). Gradient only w.r.t. the logits.
Tensor cross_entropy(const Tensor& logits, const Tensor& target, double label_smoothing = 0.0);

// mean((a - b)^2) over all elements (a, b of the same shape); scalar result. Gradients for
// whichever input requires one (b is often a constant target).
Tensor mse_loss(const Tensor& a, const Tensor& b);

// Not differentiable; computed on the host (CUDA logits are copied). logits (N, K) F32/F64,
// target (N) I64. count_correct: rows whose argmax (first maximum on ties) equals the target.
// count_top_k: rows whose target ranks among the k largest, where ties rank the lower class
// index first (so count_top_k(l, t, 1) == count_correct(l, t)); 1 <= k <= K.
int64_t count_correct(const Tensor& logits, const Tensor& target);
int64_t count_top_k(const Tensor& logits, const Tensor& target, int k);

// ---------------------------------------------------------------- kernels

struct RowsParams {
  int64_t rows, cols;  // a row-major (rows, cols) matrix; the op works along cols
};
struct CrossEntropyParams {
  int64_t n, k;  // logits (n, k)
  double label_smoothing;
};
struct MseParams {
  int64_t n;           // elements
  int64_t chunk;       // elements per partial sum
  int64_t num_chunks;  // ceil(n / chunk)
};
// Elements per partial sum of mse_loss; the partials are then added in chunk order.
constexpr int64_t kMseChunk = 4096;

// log_softmax forward: x, y (rows, cols). Backward: y, gy, gx (rows, cols);
// gx = gy - exp(y) * sum_row(gy), assigned.
template <class T> using LogSoftmaxFwdFn = void (*)(const T* x, T* y, RowsParams p);
template <class T> using LogSoftmaxBwdFn = void (*)(const T* y, const T* gy, T* gx, RowsParams p);

// cross_entropy forward: logits (n, k), target (n) valid classes (checked by the op); outputs
// lse (n, the per-row log-sum-exp, saved for backward), row_loss (n, per-row loss, scratch) and
// loss (1, the mean of row_loss summed in row order). Backward: gloss (1, upstream gradient),
// glogits (n, k) = (softmax - smoothed one-hot) * gloss / n, assigned.
template <class T>
using CrossEntropyFwdFn = void (*)(const T* logits, const int64_t* target, T* lse, T* row_loss,
                                   T* loss, CrossEntropyParams p);
template <class T>
using CrossEntropyBwdFn = void (*)(const T* logits, const int64_t* target, const T* lse,
                                   const T* gloss, T* glogits, CrossEntropyParams p);

// mse_loss forward: a, b (n); partial (num_chunks, scratch: per-chunk sums of squares, each
// over its elements in order); loss (1) = sum of partials in chunk order / n.
// Backward: gloss (1); ga = 2 (a - b) gloss / n and gb = -ga, each (n) or null when not
// needed, assigned.
template <class T>
using MseFwdFn = void (*)(const T* a, const T* b, T* partial, T* loss, MseParams p);
template <class T>
using MseBwdFn = void (*)(const T* a, const T* b, const T* gloss, T* ga, T* gb, MseParams p);

extern KernelSlot<LogSoftmaxFwdFn> log_softmax_forward_kernel;
extern KernelSlot<LogSoftmaxBwdFn> log_softmax_backward_kernel;
extern KernelSlot<CrossEntropyFwdFn> cross_entropy_forward_kernel;
extern KernelSlot<CrossEntropyBwdFn> cross_entropy_backward_kernel;
extern KernelSlot<MseFwdFn> mse_loss_forward_kernel;
extern KernelSlot<MseBwdFn> mse_loss_backward_kernel;

}  // namespace nwq
