// Optimizers over a list of parameter tensors: SGD (momentum, nesterov, weight decay) and
// Adam/AdamW. Update kernels go through KernelSlots so the CUDA backend can supply its own.
#pragma once
#include <memory>
#include <vector>

#include "ops/dispatch.h"

namespace nwq {

class Optimizer {
 public:
  explicit Optimizer(std::vector<Tensor> params, double lr) : params_(std::move(params)), lr_(lr) {}
  virtual ~Optimizer() = default;
  virtual void step() = 0;  // parameters without a gradient are skipped
  void zero_grad();
  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }
  const std::vector<Tensor>& params() const { return params_; }
  // Optimizer moments, for checkpoints and resumable runs (one tensor per state slot).
  virtual std::vector<Tensor> state() const = 0;
  virtual int64_t steps() const = 0;
  // Resuming: copy saved moments into state() (they alias the optimizer's), then set the count.
  virtual void set_steps(int64_t steps) = 0;

 protected:
  std::vector<Tensor> params_;
  double lr_;
};

struct SgdOptions {
  double lr = 0.1, momentum = 0.0, weight_decay = 0.0;
  bool nesterov = false;
};

// PyTorch's SGD: g += wd*p; buf = momentum*buf + g (buf = g at the first step);
// step = nesterov ? g + momentum*buf : buf; p -= lr*step.
class Sgd : public Optimizer {
 public:
  Sgd(std::vector<Tensor> params, const SgdOptions& options);
  void step() override;
  std::vector<Tensor> state() const override { return momentum_; }
  int64_t steps() const override { return steps_; }
  void set_steps(int64_t steps) override { steps_ = steps; }

 private:
  SgdOptions options_;
  std::vector<Tensor> momentum_;
  int64_t steps_ = 0;
};

struct AdamOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  bool decoupled = false;  // AdamW: p -= lr*wd*p instead of adding wd*p to the gradient
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, const AdamOptions& options);
  void step() override;
  std::vector<Tensor> state() const override;
  int64_t steps() const override { return steps_; }
  void set_steps(int64_t steps) override { steps_ = steps; }

 private:
  AdamOptions options_;
  std::vector<Tensor> m_, v_;
  int64_t steps_ = 0;
};

// Kernel params (double so F64 gradient checks see exact hyper-parameters) and slots
// (all arrays have n elements; p and the state arrays are updated in place).
struct SgdStepParams {
  double lr, momentum, weight_decay;
  bool nesterov, first_step;
};
struct AdamStepParams {
  double lr, beta1, beta2, eps, weight_decay, bias_correction1, bias_correction2;
  bool decoupled;
};
template <class T>
using SgdStepFn = void (*)(T* p, const T* g, T* buf, int64_t n, SgdStepParams params);
template <class T>
using AdamStepFn = void (*)(T* p, const T* g, T* m, T* v, int64_t n, AdamStepParams params);
extern KernelSlot<SgdStepFn> sgd_step_kernel;
extern KernelSlot<AdamStepFn> adam_step_kernel;

}  // namespace nwq
