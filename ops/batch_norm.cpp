// batch_norm: CPU kernels (train/eval forward and backward, parallel over channels, two-pass
// per-channel reductions in a fixed order) and the differentiable op with its running-stat update.
// Training backward is the full batch-statistics gradient; eval backward is a per-channel affine map.
#include "ops/batch_norm.h"

#include <cmath>

#include "autograd/node.h"

namespace nwq {

// Below this many elements the kernels stay on one thread.
constexpr int64_t kBatchNormParallelMin = 32768;

// Calls f(j) for every flat index j of channel c, in the fixed order n, then hw.
template <class F>
static void for_each_in_channel(const BatchNormParams& p, int64_t c, F&& f) {
  for (int64_t i = 0; i < p.n; ++i) {
    const int64_t base = (i * p.c + c) * p.hw;
    for (int64_t j = base; j < base + p.hw; ++j) f(j);
  }
}

// Sum of f(j) over channel c in a fixed order that does not depend on threads: kLanes running
// partial sums (lane l takes every kLanes-th element of each row of hw), added up at the end.
// The independent lanes let the CPU overlap the additions.
constexpr int kLanes = 8;
template <class F>
static double channel_sum(const BatchNormParams& p, int64_t c, F&& f) {
  double lane[kLanes] = {};
  for (int64_t i = 0; i < p.n; ++i) {
    const int64_t base = (i * p.c + c) * p.hw;
    int64_t j = 0;
    for (; j + kLanes <= p.hw; j += kLanes) {
      for (int l = 0; l < kLanes; ++l) lane[l] += f(base + j + l);
    }
    for (; j < p.hw; ++j) lane[j % kLanes] += f(base + j);
  }
  double sum = 0;
  for (int l = 0; l < kLanes; ++l) sum += lane[l];
  return sum;
}

template <class T>
static void bn_forward_train_cpu(const T* x, const T* weight, const T* bias, T* y, T* save_mean,
                                 T* save_invstd, T* running_mean, T* running_var,
                                 BatchNormParams p) {
  const int64_t m = p.n * p.hw;
#pragma omp parallel for if (p.c > 1 && m * p.c > kBatchNormParallelMin)
  for (int64_t c = 0; c < p.c; ++c) {
    const double mean = channel_sum(p, c, [&](int64_t j) { return double(x[j]); }) / m;
    const double sq_dev =
        channel_sum(p, c, [&](int64_t j) { return (x[j] - mean) * (x[j] - mean); });
    const double invstd = 1.0 / std::sqrt(sq_dev / m + p.eps);
    const double scale = invstd * (weight ? double(weight[c]) : 1.0);
    const double shift = bias ? double(bias[c]) : 0.0;
    for_each_in_channel(p, c, [&](int64_t j) { y[j] = T((x[j] - mean) * scale + shift); });
    save_mean[c] = T(mean);
    save_invstd[c] = T(invstd);
    if (running_mean) {  // the op layer guarantees m > 1 in training mode
      running_mean[c] = T((1 - p.momentum) * running_mean[c] + p.momentum * mean);
      running_var[c] = T((1 - p.momentum) * running_var[c] + p.momentum * sq_dev / (m - 1));
    }
  }
}

template <class T>
static void bn_forward_eval_cpu(const T* x, const T* weight, const T* bias,
                                const T* running_mean, const T* running_var, T* y,
                                BatchNormParams p) {
#pragma omp parallel for if (p.c > 1 && p.n * p.hw * p.c > kBatchNormParallelMin)
  for (int64_t c = 0; c < p.c; ++c) {
    const double mean = running_mean[c];
    const double scale = (weight ? double(weight[c]) : 1.0) / std::sqrt(running_var[c] + p.eps);
    const double shift = bias ? double(bias[c]) : 0.0;
    for_each_in_channel(p, c, [&](int64_t j) { y[j] = T((x[j] - mean) * scale + shift); });
  }
}

// With xhat = (x - mean) * invstd and M = n * hw per channel:
//   gbias = sum(gy), gweight = sum(gy * xhat),
//   gx = weight * invstd * (gy - gbias / M - xhat * gweight / M).
template <class T>
static void bn_backward_train_cpu(const T* x, const T* weight, const T* gy, const T* save_mean,
                                  const T* save_invstd, T* gx, T* gweight, T* gbias,
                                  BatchNormParams p) {
  const int64_t m = p.n * p.hw;
#pragma omp parallel for if (p.c > 1 && m * p.c > kBatchNormParallelMin)
  for (int64_t c = 0; c < p.c; ++c) {
    const double mean = save_mean[c], invstd = save_invstd[c];
    const double sum_gy = channel_sum(p, c, [&](int64_t j) { return double(gy[j]); });
    const double sum_gy_dev = channel_sum(p, c, [&](int64_t j) { return gy[j] * (x[j] - mean); });
    const double sum_gy_xhat = sum_gy_dev * invstd;
    if (gbias) gbias[c] = T(sum_gy);
    if (gweight) gweight[c] = T(sum_gy_xhat);
    if (!gx) continue;
    const double k = (weight ? double(weight[c]) : 1.0) * invstd;
    const double mean_gy = sum_gy / m, mean_gy_xhat = sum_gy_xhat / m;
    for_each_in_channel(p, c, [&](int64_t j) {
      gx[j] = T(k * (gy[j] - mean_gy - (x[j] - mean) * invstd * mean_gy_xhat));
    });
  }
}

// y = (x - running_mean) * invstd * weight + bias with constant stats: gx = gy * weight * invstd,
// gweight = sum(gy * (x - running_mean) * invstd), gbias = sum(gy).
template <class T>
static void bn_backward_eval_cpu(const T* x, const T* weight, const T* gy,
                                 const T* running_mean, const T* running_var, T* gx, T* gweight,
                                 T* gbias, BatchNormParams p) {
#pragma omp parallel for if (p.c > 1 && p.n * p.hw * p.c > kBatchNormParallelMin)
  for (int64_t c = 0; c < p.c; ++c) {
    const double mean = running_mean[c];
    const double invstd = 1.0 / std::sqrt(running_var[c] + p.eps);
    if (gbias) gbias[c] = T(channel_sum(p, c, [&](int64_t j) { return double(gy[j]); }));
    if (gweight) {
      gweight[c] = T(invstd * channel_sum(p, c, [&](int64_t j) { return gy[j] * (x[j] - mean); }));
    }
    if (!gx) continue;
    const double k = (weight ? double(weight[c]) : 1.0) * invstd;
    for_each_in_channel(p, c, [&](int64_t j) { gx[j] = T(k * gy[j]); });
  }
}

KernelSlot<BatchNormTrainFwdFn> batch_norm_forward_train_kernel{
    "batch_norm_forward_train", bn_forward_train_cpu<float>, bn_forward_train_cpu<double>};
KernelSlot<BatchNormEvalFwdFn> batch_norm_forward_eval_kernel{
    "batch_norm_forward_eval", bn_forward_eval_cpu<float>, bn_forward_eval_cpu<double>};
KernelSlot<BatchNormTrainBwdFn> batch_norm_backward_train_kernel{
    "batch_norm_backward_train", bn_backward_train_cpu<float>, bn_backward_train_cpu<double>};
KernelSlot<BatchNormEvalBwdFn> batch_norm_backward_eval_kernel{
    "batch_norm_backward_eval", bn_backward_eval_cpu<float>, bn_backward_eval_cpu<double>};

// ---------------------------------------------------------------- the differentiable op

template <class T>
static T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}
static Tensor contiguous_or_undefined(const Tensor& t) {
  return t.defined() ? t.contiguous() : Tensor();
}
static Tensor detached_or_undefined(const Tensor& t) { return t.defined() ? t.detach() : Tensor(); }

static void check_channel_vector(const Tensor& t, const char* what, const Tensor& x) {
  if (!t.defined()) return;
  NWQ_CHECK(t.dim() == 1 && t.size(0) == x.size(1), "batch_norm: ", what, " has shape ",
            shape_str(t.sizes()), " but the input ", shape_str(x.sizes()), " has ", x.size(1),
            " channels");
}

static void check_batch_norm_args(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                  const Tensor& running_mean, const Tensor& running_var,
                                  bool training) {
  NWQ_CHECK(x.defined() && x.dim() >= 2, "batch_norm: expected an (N, C, ...) input, got ",
            x.defined() ? shape_str(x.sizes()) : "an undefined tensor");
  check_same("batch_norm", {x, weight, bias, running_mean, running_var});
  check_channel_vector(weight, "weight", x);
  check_channel_vector(bias, "bias", x);
  check_channel_vector(running_mean, "running_mean", x);
  check_channel_vector(running_var, "running_var", x);
  NWQ_CHECK(running_mean.defined() == running_var.defined(),
            "batch_norm: running_mean and running_var must both be given or both be absent");
  NWQ_CHECK(!(running_mean.defined() && (running_mean.requires_grad() || running_var.requires_grad())),
            "batch_norm: running stats must not require grad (they are updated in place)");
  NWQ_CHECK(training || running_mean.defined(),
            "batch_norm: eval mode needs running_mean and running_var");
  NWQ_CHECK(!training || x.size(1) == 0 || x.numel() / x.size(1) > 1,
            "batch_norm: expected more than 1 value per channel when training, got input ",
            shape_str(x.sizes()));
}

// `inputs` are the caller's x, weight, bias (before contiguous()): the graph edges go to them.
static Tensor batch_norm_train(const std::vector<Tensor>& inputs, const Tensor& x,
                               const Tensor& w, const Tensor& b, const Tensor& running_mean,
                               const Tensor& running_var, const BatchNormParams& p) {
  Tensor y = Tensor::empty(x.sizes(), x.dtype(), x.device());
  Tensor mean = Tensor::empty({p.c}, x.dtype(), x.device());
  Tensor invstd = Tensor::empty({p.c}, x.dtype(), x.device());
  Tensor rm = contiguous_or_undefined(running_mean), rv = contiguous_or_undefined(running_var);
  visit_float(x.dtype(), "batch_norm", [&](auto zero) {
    using T = decltype(zero);
    batch_norm_forward_train_kernel.get<T>(x.device())(
        x.data<T>(), ptr_or_null<T>(w), ptr_or_null<T>(b), y.data<T>(), mean.data<T>(),
        invstd.data<T>(), ptr_or_null<T>(rm), ptr_or_null<T>(rv), p);
  });
  if (rm.defined() && !rm.same(running_mean)) Tensor(running_mean).copy_(rm);  // strided stats
  if (rv.defined() && !rv.same(running_var)) Tensor(running_var).copy_(rv);
  if (should_record(inputs)) {
    record("batch_norm", inputs, y,
           [x = x.detach(), w = detached_or_undefined(w), mean, invstd, p](
               const Tensor& gy_in, const std::vector<bool>& needs) {
             Tensor gy = gy_in.contiguous();
             std::vector<Tensor> grads(3);
             if (needs[0]) grads[0] = Tensor::empty(x.sizes(), x.dtype(), x.device());
             if (needs[1]) grads[1] = Tensor::empty({p.c}, x.dtype(), x.device());
             if (needs[2]) grads[2] = Tensor::empty({p.c}, x.dtype(), x.device());
             visit_float(x.dtype(), "batch_norm backward", [&](auto zero) {
               using T = decltype(zero);
               batch_norm_backward_train_kernel.get<T>(x.device())(
                   x.data<T>(), ptr_or_null<T>(w), gy.data<T>(), mean.data<T>(),
                   invstd.data<T>(), ptr_or_null<T>(grads[0]), ptr_or_null<T>(grads[1]),
                   ptr_or_null<T>(grads[2]), p);
             });
             return grads;
           });
  }
  return y;
}

static Tensor batch_norm_eval(const std::vector<Tensor>& inputs, const Tensor& x,
                              const Tensor& w, const Tensor& b, const Tensor& running_mean,
                              const Tensor& running_var, const BatchNormParams& p) {
  Tensor y = Tensor::empty(x.sizes(), x.dtype(), x.device());
  visit_float(x.dtype(), "batch_norm", [&](auto zero) {
    using T = decltype(zero);
    batch_norm_forward_eval_kernel.get<T>(x.device())(
        x.data<T>(), ptr_or_null<T>(w), ptr_or_null<T>(b), running_mean.data<T>(),
        running_var.data<T>(), y.data<T>(), p);
  });
  if (should_record(inputs)) {
    // The stats are copied (C values): a later training call must not change this gradient.
    // x is only read for the weight gradient.
    Tensor saved_x = inputs[1].defined() && inputs[1].requires_grad() ? x.detach() : Tensor();
    record("batch_norm", inputs, y,
           [x = saved_x, w = detached_or_undefined(w), rm = running_mean.clone(),
            rv = running_var.clone(), p](const Tensor& gy_in, const std::vector<bool>& needs) {
             Tensor gy = gy_in.contiguous();
             std::vector<Tensor> grads(3);
             if (needs[0]) grads[0] = Tensor::empty(gy.sizes(), gy.dtype(), gy.device());
             if (needs[1]) grads[1] = Tensor::empty({p.c}, gy.dtype(), gy.device());
             if (needs[2]) grads[2] = Tensor::empty({p.c}, gy.dtype(), gy.device());
             visit_float(gy.dtype(), "batch_norm backward", [&](auto zero) {
               using T = decltype(zero);
               batch_norm_backward_eval_kernel.get<T>(gy.device())(
                   ptr_or_null<T>(x), ptr_or_null<T>(w), gy.data<T>(), rm.data<T>(),
                   rv.data<T>(), ptr_or_null<T>(grads[0]), ptr_or_null<T>(grads[1]),
                   ptr_or_null<T>(grads[2]), p);
             });
             return grads;
           });
  }
  return y;
}

Tensor batch_norm(const Tensor& x_in, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  double momentum, double eps) {
  check_batch_norm_args(x_in, weight, bias, running_mean, running_var, training);
  Tensor x = x_in.contiguous();
  int64_t hw = 1;
  for (int64_t d = 2; d < x.dim(); ++d) hw *= x.size(d);
  const BatchNormParams p{x.size(0), x.size(1), hw, eps, momentum};
  Tensor w = contiguous_or_undefined(weight), b = contiguous_or_undefined(bias);
  const std::vector<Tensor> inputs{x_in, weight, bias};
  if (training) return batch_norm_train(inputs, x, w, b, running_mean, running_var, p);
  return batch_norm_eval(inputs, x, w, b, running_mean.contiguous(), running_var.contiguous(), p);
}

}  // namespace nwq
