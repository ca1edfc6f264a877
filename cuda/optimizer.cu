// CUDA twins of optim/optimizer.cpp's update kernels (SGD with momentum/nesterov, Adam/AdamW).
// p, g and the state arrays have n floats; p and the state are updated in place. Hyper-parameters
// are rounded to float on the host exactly as the CPU kernel rounds them.
#include <cmath>

#include "cuda/launch.cuh"
#include "optim/optimizer.h"

namespace nwq {

struct SgdOp {
  float* p;
  const float* g;
  float* buf;
  float lr, momentum, weight_decay;
  bool use_momentum, nesterov, first_step;
  __device__ void operator()(int64_t i) const {
    float grad = g[i] + weight_decay * p[i];
    float step = grad;
    if (use_momentum) {
      buf[i] = first_step ? grad : momentum * buf[i] + grad;
      step = nesterov ? grad + momentum * buf[i] : buf[i];
    }
    p[i] -= lr * step;
  }
};

void sgd_step_cuda(float* p, const float* g, float* buf, int64_t n, SgdStepParams a) {
  SgdOp op{p, g, buf, float(a.lr), float(a.momentum), float(a.weight_decay),
           a.momentum != 0, a.nesterov, a.first_step};
  launch_elementwise("sgd_step", n, op);
}

struct AdamOp {
  float* p;
  const float* g;
  float* m;
  float* v;
  float lr, lr_wd, weight_decay, beta1, one_minus_beta1, beta2, one_minus_beta2, eps, bc1, bc2;
  bool decoupled;
  __device__ void operator()(int64_t i) const {
    float grad = g[i];
    if (decoupled) p[i] -= lr_wd * p[i];
    else grad += weight_decay * p[i];
    m[i] = beta1 * m[i] + one_minus_beta1 * grad;
    v[i] = beta2 * v[i] + one_minus_beta2 * grad * grad;
    float m_hat = m[i] / bc1;
    float v_hat = v[i] / bc2;
    p[i] -= lr * m_hat / (sqrtf(v_hat) + eps);
  }
};

void adam_step_cuda(float* p, const float* g, float* m, float* v, int64_t n, AdamStepParams a) {
  AdamOp op{p, g, m, v,
            float(a.lr), float(a.lr * a.weight_decay), float(a.weight_decay),
            float(a.beta1), float(1 - a.beta1), float(a.beta2), float(1 - a.beta2),
            float(a.eps), float(a.bias_correction1), float(a.bias_correction2),
            a.decoupled};
  launch_elementwise("adam_step", n, op);
}

}  // namespace nwq
