// SGD and Adam/AdamW: CPU update kernels and the per-parameter loops that call them.
// Semantics follow torch.optim so that recipes transfer unchanged.
#include "optim/optimizer.h"

#include <cmath>

namespace nwq {

template <class T>
static void sgd_step_cpu(T* p, const T* g, T* buf, int64_t n, SgdStepParams a) {
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    T grad = g[i] + T(a.weight_decay) * p[i];
    T step = grad;
    if (a.momentum != 0) {
      buf[i] = a.first_step ? grad : T(a.momentum) * buf[i] + grad;
      step = a.nesterov ? grad + T(a.momentum) * buf[i] : buf[i];
    }
    p[i] -= T(a.lr) * step;
  }
}

template <class T>
static void adam_step_cpu(T* p, const T* g, T* m, T* v, int64_t n, AdamStepParams a) {
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    T grad = g[i];
    if (a.decoupled) p[i] -= T(a.lr * a.weight_decay) * p[i];
    else grad += T(a.weight_decay) * p[i];
    m[i] = T(a.beta1) * m[i] + T(1 - a.beta1) * grad;
    v[i] = T(a.beta2) * v[i] + T(1 - a.beta2) * grad * grad;
    T m_hat = m[i] / T(a.bias_correction1);
    T v_hat = v[i] / T(a.bias_correction2);
    p[i] -= T(a.lr) * m_hat / (std::sqrt(v_hat) + T(a.eps));
  }
}

KernelSlot<SgdStepFn> sgd_step_kernel{"sgd_step", sgd_step_cpu<float>, sgd_step_cpu<double>};
KernelSlot<AdamStepFn> adam_step_kernel{"adam_step", adam_step_cpu<float>, adam_step_cpu<double>};

void Optimizer::zero_grad() {
  for (Tensor& p : params_) p.zero_grad();
}

static void check_params(const char* who, const std::vector<Tensor>& params) {
  for (const Tensor& p : params) {
    NWQ_CHECK(p.defined() && p.is_leaf() && p.is_contiguous(), who,
              ": parameters must be contiguous leaf tensors");
  }
}

Sgd::Sgd(std::vector<Tensor> params, const SgdOptions& options)
    : Optimizer(std::move(params), options.lr), options_(options) {
  check_params("Sgd", params_);
  NWQ_CHECK(!options.nesterov || options.momentum > 0, "Sgd: nesterov needs momentum > 0");
  for (const Tensor& p : params_) momentum_.push_back(Tensor::zeros(p.sizes(), p.dtype(), p.device()));
}

void Sgd::step() {
  SgdStepParams a{lr_, options_.momentum, options_.weight_decay,
                  options_.nesterov, steps_ == 0};
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor g = params_[i].grad();
    if (!g.defined()) continue;
    g = g.contiguous();
    visit_float(params_[i].dtype(), "sgd_step", [&](auto zero) {
      using T = decltype(zero);
      sgd_step_kernel.get<T>(params_[i].device())(params_[i].data<T>(), g.data<T>(),
                                                  momentum_[i].data<T>(), params_[i].numel(), a);
    });
  }
  ++steps_;
}

Adam::Adam(std::vector<Tensor> params, const AdamOptions& options)
    : Optimizer(std::move(params), options.lr), options_(options) {
  check_params("Adam", params_);
  for (const Tensor& p : params_) {
    m_.push_back(Tensor::zeros(p.sizes(), p.dtype(), p.device()));
    v_.push_back(Tensor::zeros(p.sizes(), p.dtype(), p.device()));
  }
}

std::vector<Tensor> Adam::state() const {
  std::vector<Tensor> all = m_;
  all.insert(all.end(), v_.begin(), v_.end());
  return all;
}

void Adam::step() {
  ++steps_;
  AdamStepParams a{lr_,
                   options_.beta1,
                   options_.beta2,
                   options_.eps,
                   options_.weight_decay,
                   1 - std::pow(options_.beta1, double(steps_)),
                   1 - std::pow(options_.beta2, double(steps_)),
                   options_.decoupled};
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor g = params_[i].grad();
    if (!g.defined()) continue;
    g = g.contiguous();
    visit_float(params_[i].dtype(), "adam_step", [&](auto zero) {
      using T = decltype(zero);
      adam_step_kernel.get<T>(params_[i].device())(params_[i].data<T>(), g.data<T>(),
                                                   m_[i].data<T>(), v_[i].data<T>(),
                                                   params_[i].numel(), a);
    });
  }
}

}  // namespace nwq
