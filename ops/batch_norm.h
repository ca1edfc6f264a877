// Batch normalization over the channel dim of (N, C, ...) inputs, as torch.nn.functional.batch_norm:
// training mode normalizes with batch statistics and updates the running stats in place; eval
// mode normalizes with the running stats. Forward, backward and autograd wiring.
#pragma once
#include "ops/dispatch.h"

namespace nwq {

// x: (N, C) or (N, C, H, W) (any N, C, ... works: dims after C are flattened). weight, bias: C or
// undefined (1 and 0). running_mean, running_var: C; both undefined or both defined; never
// requiring grad. training: normalize with the batch mean and biased variance, then update
//   running_mean = (1 - momentum) * running_mean + momentum * batch_mean
//   running_var  = (1 - momentum) * running_var  + momentum * unbiased_batch_var
// in place (outside autograd). Eval: normalize with the running stats (they must be defined).
// Gradients for x, weight and bias, each computed only when needed.
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  double momentum, double eps);

// Kernel parameters: x is viewed as [n, c, hw] (hw = product of the dims after C, 1 for 2-D x).
struct BatchNormParams {
  int64_t n, c, hw;
  double eps;
  double momentum;  // used by forward-train for the running-stat update only
};

// Kernels. Reductions per channel are two-pass (mean, then sum of squared deviations),
// accumulated in double in a fixed order that does not depend on the number of threads (CPU:
// threads take whole channels). weight / bias may be null (meaning 1 / 0).
//
// forward-train: x, y [n, c, hw]; save_mean, save_invstd [c] (outputs: batch mean and
// 1/sqrt(biased var + eps)); running_mean, running_var [c] updated in place, or both null.
template <class T>
using BatchNormTrainFwdFn = void (*)(const T* x, const T* weight, const T* bias, T* y,
                                     T* save_mean, T* save_invstd, T* running_mean,
                                     T* running_var, BatchNormParams p);
// forward-eval: x, y [n, c, hw]; running_mean, running_var [c] (read only).
template <class T>
using BatchNormEvalFwdFn = void (*)(const T* x, const T* weight, const T* bias,
                                    const T* running_mean, const T* running_var, T* y,
                                    BatchNormParams p);
// backward-train: x, gy, gx [n, c, hw]; save_mean, save_invstd, gweight, gbias [c]. Each of
// gx, gweight, gbias may be null (not needed); the others are assigned (not accumulated).
template <class T>
using BatchNormTrainBwdFn = void (*)(const T* x, const T* weight, const T* gy,
                                     const T* save_mean, const T* save_invstd, T* gx,
                                     T* gweight, T* gbias, BatchNormParams p);
// backward-eval: gy, gx [n, c, hw]; x is read only for gweight (may be null otherwise);
// running stats [c]. gx, gweight, gbias may be null; the others are assigned.
template <class T>
using BatchNormEvalBwdFn = void (*)(const T* x, const T* weight, const T* gy,
                                    const T* running_mean, const T* running_var, T* gx,
                                    T* gweight, T* gbias, BatchNormParams p);

extern KernelSlot<BatchNormTrainFwdFn> batch_norm_forward_train_kernel;
extern KernelSlot<BatchNormEvalFwdFn> batch_norm_forward_eval_kernel;
extern KernelSlot<BatchNormTrainBwdFn> batch_norm_backward_train_kernel;
extern KernelSlot<BatchNormEvalBwdFn> batch_norm_backward_eval_kernel;

}  // namespace nwq
