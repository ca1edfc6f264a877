// Loss ops: CPU kernels and autograd wiring for log_softmax, fused cross_entropy (one pass per row
// for log-sum-exp and the loss terms) and fused mse_loss, plus the host-side top-1/top-k counters.
// All reductions run in a fixed order (per row, or per fixed chunk then in chunk order), in double.
#include "ops/loss.h"

#include <algorithm>
#include <cmath>

#include "autograd/node.h"

namespace nwq {

constexpr int64_t kLossParallelMin = 32768;  // elements; below this the kernels use one thread

template <class T>
static T row_max(const T* row, int64_t cols) {
  T m = row[0];
  for (int64_t j = 1; j < cols; ++j) m = row[j] > m ? row[j] : m;
  return m;
}

// log(sum_j exp(row[j] - max)): the row's log-sum-exp minus its max.
template <class T>
static double log_sum_exp_shifted(const T* row, int64_t cols, double max) {
  double sum = 0;
  for (int64_t j = 0; j < cols; ++j) sum += std::exp(row[j] - max);
  return std::log(sum);
}

template <class T>
static void log_softmax_forward_cpu(const T* x, T* y, RowsParams p) {
#pragma omp parallel for if (p.rows * p.cols > kLossParallelMin)
  for (int64_t i = 0; i < p.rows; ++i) {
    const T* row = x + i * p.cols;
    const double max = row_max(row, p.cols);
    const double log_sum = log_sum_exp_shifted(row, p.cols, max);
    for (int64_t j = 0; j < p.cols; ++j) y[i * p.cols + j] = T((row[j] - max) - log_sum);
  }
}

template <class T>
static void log_softmax_backward_cpu(const T* y, const T* gy, T* gx, RowsParams p) {
#pragma omp parallel for if (p.rows * p.cols > kLossParallelMin)
  for (int64_t i = 0; i < p.rows; ++i) {
    const int64_t base = i * p.cols;
    double sum_gy = 0;
    for (int64_t j = 0; j < p.cols; ++j) sum_gy += gy[base + j];
    for (int64_t j = 0; j < p.cols; ++j) {
      gx[base + j] = T(gy[base + j] - std::exp(double(y[base + j])) * sum_gy);
    }
  }
}

// Per row, with z shifted by its max m: loss = log(sum exp(z - m)) - (1 - e)(z_t - m)
// - (e / K) sum_k (z_k - m), which equals (1 - e)(-log p_t) + e mean_k(-log p_k).
template <class T>
static void cross_entropy_forward_cpu(const T* logits, const int64_t* target, T* lse,
                                      T* row_loss, T* loss, CrossEntropyParams p) {
  const double e = p.label_smoothing;
#pragma omp parallel for if (p.n * p.k > kLossParallelMin)
  for (int64_t i = 0; i < p.n; ++i) {
    const T* row = logits + i * p.k;
    const double max = row_max(row, p.k);
    const double log_sum = log_sum_exp_shifted(row, p.k, max);
    double sum_shifted = 0;
    for (int64_t j = 0; j < p.k; ++j) sum_shifted += row[j] - max;
    lse[i] = T(max + log_sum);
    row_loss[i] = T(log_sum - (1 - e) * (row[target[i]] - max) - e / p.k * sum_shifted);
  }
  double total = 0;
  for (int64_t i = 0; i < p.n; ++i) total += row_loss[i];
  *loss = T(total / p.n);
}

template <class T>
static void cross_entropy_backward_cpu(const T* logits, const int64_t* target, const T* lse,
                                       const T* gloss, T* glogits, CrossEntropyParams p) {
  const double scale = double(*gloss) / p.n;
  const double off = p.label_smoothing / p.k;             // smoothed one-hot, wrong classes
  const double on = 1 - p.label_smoothing + off;         // smoothed one-hot, the target
#pragma omp parallel for if (p.n * p.k > kLossParallelMin)
  for (int64_t i = 0; i < p.n; ++i) {
    for (int64_t j = 0; j < p.k; ++j) {
      const double prob = std::exp(double(logits[i * p.k + j]) - double(lse[i]));
      glogits[i * p.k + j] = T((prob - (j == target[i] ? on : off)) * scale);
    }
  }
}

template <class T>
static void mse_forward_cpu(const T* a, const T* b, T* partial, T* loss, MseParams p) {
#pragma omp parallel for if (p.n > kLossParallelMin)
  for (int64_t c = 0; c < p.num_chunks; ++c) {
    const int64_t end = std::min(p.n, (c + 1) * p.chunk);
    double sum = 0;
    for (int64_t i = c * p.chunk; i < end; ++i) sum += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    partial[c] = T(sum);
  }
  double total = 0;
  for (int64_t c = 0; c < p.num_chunks; ++c) total += partial[c];
  *loss = T(total / p.n);
}

template <class T>
static void mse_backward_cpu(const T* a, const T* b, const T* gloss, T* ga, T* gb, MseParams p) {
  const double scale = 2.0 * double(*gloss) / p.n;
#pragma omp parallel for if (p.n > kLossParallelMin)
  for (int64_t i = 0; i < p.n; ++i) {
    const double g = scale * (double(a[i]) - b[i]);
    if (ga) ga[i] = T(g);
    if (gb) gb[i] = T(-g);
  }
}

KernelSlot<LogSoftmaxFwdFn> log_softmax_forward_kernel{
    "log_softmax_forward", log_softmax_forward_cpu<float>, log_softmax_forward_cpu<double>};
KernelSlot<LogSoftmaxBwdFn> log_softmax_backward_kernel{
    "log_softmax_backward", log_softmax_backward_cpu<float>, log_softmax_backward_cpu<double>};
KernelSlot<CrossEntropyFwdFn> cross_entropy_forward_kernel{
    "cross_entropy_forward", cross_entropy_forward_cpu<float>, cross_entropy_forward_cpu<double>};
KernelSlot<CrossEntropyBwdFn> cross_entropy_backward_kernel{
    "cross_entropy_backward", cross_entropy_backward_cpu<float>,
    cross_entropy_backward_cpu<double>};
KernelSlot<MseFwdFn> mse_loss_forward_kernel{"mse_loss_forward", mse_forward_cpu<float>,
                                             mse_forward_cpu<double>};
KernelSlot<MseBwdFn> mse_loss_backward_kernel{"mse_loss_backward", mse_backward_cpu<float>,
                                              mse_backward_cpu<double>};

// ---------------------------------------------------------------- the differentiable ops

template <class T>
static T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

Tensor log_softmax(const Tensor& x_in) {
  NWQ_CHECK(x_in.defined() && x_in.dim() >= 1 && x_in.size(-1) > 0,
            "log_softmax: expected a tensor with a non-empty last dim, got ",
            x_in.defined() ? shape_str(x_in.sizes()) : "an undefined tensor");
  Tensor x = x_in.contiguous();
  const RowsParams p{x.numel() / x.size(-1), x.size(-1)};
  Tensor y = Tensor::empty(x.sizes(), x.dtype(), x.device());
  visit_float(x.dtype(), "log_softmax", [&](auto zero) {
    using T = decltype(zero);
    log_softmax_forward_kernel.get<T>(x.device())(x.data<T>(), y.data<T>(), p);
  });
  if (should_record({x_in})) {
    record("log_softmax", {x_in}, y,
           [y_saved = y.detach(), p](const Tensor& gy_in, const std::vector<bool>&) {
             Tensor gy = gy_in.contiguous();
             Tensor gx = Tensor::empty(y_saved.sizes(), y_saved.dtype(), y_saved.device());
             visit_float(gy.dtype(), "log_softmax backward", [&](auto zero) {
               using T = decltype(zero);
               log_softmax_backward_kernel.get<T>(gy.device())(
                   y_saved.data<T>(), gy.data<T>(), gx.data<T>(), p);
             });
             return std::vector<Tensor>{gx};
           });
  }
  return y;
}

// Checks logits (N, K) float and target (N) I64 in [0, K) on the same device, for `op`.
// Returns the targets, copied to the host.
static std::vector<int64_t> check_classification_args(const char* op, const Tensor& logits, const Tensor& target) {
  NWQ_CHECK(logits.defined() && logits.dim() == 2 && logits.size(0) > 0 && logits.size(1) > 0,
            op, ": expected logits of shape (N, K) with N, K > 0, got ",
            logits.defined() ? shape_str(logits.sizes()) : "an undefined tensor");
  NWQ_CHECK(is_float(logits.dtype()), op, ": expected float logits, got ", logits.describe());
  NWQ_CHECK(target.defined() && target.dtype() == DType::I64, op,
            ": expected an int64 target, got ", target.defined() ? target.describe() : "none");
  NWQ_CHECK(target.dim() == 1 && target.size(0) == logits.size(0), op, ": target ",
            shape_str(target.sizes()), " does not match logits ", shape_str(logits.sizes()),
            " (expected [", logits.size(0), "])");
  NWQ_CHECK(target.device() == logits.device(), op, ": logits on ", logits.device().name(),
            " but target on ", target.device().name());
  const std::vector<int64_t> t = target.to_vector<int64_t>();  // host copy
  for (size_t i = 0; i < t.size(); ++i) {
    NWQ_CHECK(t[i] >= 0 && t[i] < logits.size(1), op, ": target ", t[i], " in row ", i,
              " is out of range [0, ", logits.size(1), ")");
  }
  return t;
}

Tensor cross_entropy(const Tensor& logits_in, const Tensor& target_in, double label_smoothing) {
  check_classification_args("cross_entropy", logits_in, target_in);
  NWQ_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0,
            "cross_entropy: label_smoothing must be in [0, 1], got ", label_smoothing);
  Tensor logits = logits_in.contiguous(), target = target_in.contiguous();
  const CrossEntropyParams p{logits.size(0), logits.size(1), label_smoothing};
  Tensor lse = Tensor::empty({p.n}, logits.dtype(), logits.device());
  Tensor row_loss = Tensor::empty({p.n}, logits.dtype(), logits.device());
  Tensor loss = Tensor::empty({}, logits.dtype(), logits.device());
  visit_float(logits.dtype(), "cross_entropy", [&](auto zero) {
    using T = decltype(zero);
    cross_entropy_forward_kernel.get<T>(logits.device())(
        logits.data<T>(), target.data<int64_t>(), lse.data<T>(), row_loss.data<T>(),
        loss.data<T>(), p);
  });
  if (should_record({logits_in})) {
    record("cross_entropy", {logits_in}, loss,
           [logits = logits.detach(), target, lse, p](const Tensor& gloss_in,
                                                      const std::vector<bool>&) {
             Tensor gloss = gloss_in.contiguous();
             Tensor glogits = Tensor::empty(logits.sizes(), logits.dtype(), logits.device());
             visit_float(logits.dtype(), "cross_entropy backward", [&](auto zero) {
               using T = decltype(zero);
               cross_entropy_backward_kernel.get<T>(logits.device())(
                   logits.data<T>(), target.data<int64_t>(), lse.data<T>(), gloss.data<T>(),
                   glogits.data<T>(), p);
             });
             return std::vector<Tensor>{glogits};
           });
  }
  return loss;
}

Tensor mse_loss(const Tensor& a_in, const Tensor& b_in) {
  NWQ_CHECK(a_in.defined() && b_in.defined(), "mse_loss: both inputs must be defined");
  NWQ_CHECK(a_in.sizes() == b_in.sizes(), "mse_loss: shapes differ: ", shape_str(a_in.sizes()),
            " vs ", shape_str(b_in.sizes()));
  NWQ_CHECK(a_in.numel() > 0, "mse_loss: empty inputs ", shape_str(a_in.sizes()));
  check_same("mse_loss", {a_in, b_in});
  Tensor a = a_in.contiguous(), b = b_in.contiguous();
  const int64_t n = a.numel();
  const MseParams p{n, kMseChunk, (n + kMseChunk - 1) / kMseChunk};
  Tensor partial = Tensor::empty({p.num_chunks}, a.dtype(), a.device());
  Tensor loss = Tensor::empty({}, a.dtype(), a.device());
  visit_float(a.dtype(), "mse_loss", [&](auto zero) {
    using T = decltype(zero);
    mse_loss_forward_kernel.get<T>(a.device())(a.data<T>(), b.data<T>(), partial.data<T>(),
                                                loss.data<T>(), p);
  });
  if (should_record({a_in, b_in})) {
    record("mse_loss", {a_in, b_in}, loss,
           [a = a.detach(), b = b.detach(), p](const Tensor& gloss_in,
                                              const std::vector<bool>& needs) {
             Tensor gloss = gloss_in.contiguous();
             std::vector<Tensor> grads(2);
             for (size_t i = 0; i < 2; ++i) {
               if (needs[i]) grads[i] = Tensor::empty(a.sizes(), a.dtype(), a.device());
             }
             visit_float(a.dtype(), "mse_loss backward", [&](auto zero) {
               using T = decltype(zero);
               mse_loss_backward_kernel.get<T>(a.device())(a.data<T>(), b.data<T>(),
                                                           gloss.data<T>(), ptr_or_null<T>(grads[0]),
                                                           ptr_or_null<T>(grads[1]), p);
             });
             return grads;
           });
  }
  return loss;
}

// ---------------------------------------------------------------- metrics (host side)

static int64_t count_ranked(const char* op, const Tensor& logits, const Tensor& target, int k) {
  const std::vector<int64_t> t = check_classification_args(op, logits, target);
  const int64_t n = logits.size(0), classes = logits.size(1);
  NWQ_CHECK(k >= 1 && k <= classes, op, ": k = ", k, " must be in [1, ", classes,
            "] for logits ", shape_str(logits.sizes()));
  const std::vector<double> z = logits.to(Device::cpu()).to(DType::F64).to_vector<double>();
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double* row = z.data() + i * classes;
    const double zt = row[t[i]];
    int64_t rank = 0;  // classes ranked before the target: larger, or equal with a lower index
    for (int64_t j = 0; j < classes; ++j) rank += row[j] > zt || (row[j] == zt && j < t[i]);
    count += rank < k;
  }
  return count;
}

int64_t count_top_k(const Tensor& logits, const Tensor& target, int k) {
  return count_ranked("count_top_k", logits, target, k);
}

int64_t count_correct(const Tensor& logits, const Tensor& target) {
  return count_ranked("count_correct", logits, target, 1);
}

}  // namespace nwq
