// CUDA twins of ops/asoftmax.cpp: ASoftmax's soft weight over candidates, its gradient, the
// initial logits and the hardening. Elementwise over the weight.
#include <cmath>

#include "cuda/launch.cuh"
#include "cuda/soft_round_weight.cuh"
#include "ops/asoftmax.h"

namespace nwq {

// Softmax over the k candidates of weight j (v is [k, N]): max logit, denominator, r.
struct CandidateSoftmax {
  float max, denom, r;
};

static __device__ __forceinline__ CandidateSoftmax candidate_softmax(const float* v, int64_t j,
                                                                     const ASoftmaxParams& p) {
  const int64_t N = p.channels * p.inner;
  const float inv_tau = float(p.inv_tau);
  float mx = v[j];
  for (int64_t k = 1; k < p.k; ++k) mx = fmaxf(mx, v[k * N + j]);
  float denom = 0, num = 0;
  for (int64_t k = 0; k < p.k; ++k) {
    const float e = expf((v[k * N + j] - mx) * inv_tau);
    denom += e;
    num += float(p.n + k) * e;
  }
  return {mx, denom, num / denom};
}

struct ASoftmaxForwardOp {
  const float *w_floor, *v, *scale, *zero_point;
  float* y;
  ASoftmaxParams p;
  __device__ void operator()(int64_t j) const {
    const int64_t c = soft_weight_channel(j, p.channels, p.inner);
    const float z = zero_point ? zero_point[c] : 0.0f, qmin = float(p.qmin), qmax = float(p.qmax);
    y[j] = soft_dequantize(w_floor[j], candidate_softmax(v, j, p).r, z, scale[c], qmin, qmax);
  }
};

struct ASoftmaxBackwardOp {
  const float *w_floor, *v, *scale, *zero_point, *gy;
  float* gv;
  ASoftmaxParams p;
  __device__ void operator()(int64_t j) const {
    const int64_t N = p.channels * p.inner, c = soft_weight_channel(j, p.channels, p.inner);
    const float z = zero_point ? zero_point[c] : 0.0f, inv_tau = float(p.inv_tau);
    const CandidateSoftmax sm = candidate_softmax(v, j, p);
    const bool inside = soft_inside_grid(w_floor[j], sm.r, z, float(p.qmin), float(p.qmax));
    const float gr = inside ? gy[j] * scale[c] : 0.0f;
    for (int64_t k = 0; k < p.k; ++k) {
      const float prob = expf((v[k * N + j] - sm.max) * inv_tau) / sm.denom;
      gv[k * N + j] = gr * prob * (float(p.n + k) - sm.r) * inv_tau;
    }
  }
};

// The same probabilities as init_probability in ops/asoftmax.cpp, in double.
struct ASoftmaxInitOp {
  const float* frac;
  float* v;
  ASoftmaxParams p;
  __device__ void operator()(int64_t j) const {
    const int64_t N = p.channels * p.inner;
    const double eps = kASoftmaxInitFloor, rest = 1.0 - double(p.k) * eps;
    const double first = double(p.n), last = double(p.n + p.k - 1);
    const double cand_sum = double(p.k) * (first + last) / 2;
    double f = double(frac[j]);
    f = f < 0 ? 0 : (f > 1 ? 1 : f);
    double mu = (f - eps * cand_sum) / rest;
    mu = mu < first ? first : (mu > last ? last : mu);
    const double lo = fmin(floor(mu), last - 1), w = mu - lo;
    for (int64_t c = 0; c < p.k; ++c) {
      const double cand = double(p.n + c);
      const double prob =
          eps + (cand == lo ? rest * (1 - w) : 0.0) + (cand == lo + 1 ? rest * w : 0.0);
      v[c * N + j] = static_cast<float>(log(prob));
    }
  }
};

struct HardRoundASoftmaxOp {
  const float* v;
  float* r;
  ASoftmaxParams p;
  __device__ void operator()(int64_t j) const {
    const int64_t N = p.channels * p.inner;
    int64_t best = 0;
    for (int64_t k = 1; k < p.k; ++k) best = v[k * N + j] > v[best * N + j] ? k : best;
    r[j] = static_cast<float>(p.n + best);
  }
};

void asoftmax_forward_cuda(const float* w_floor, const float* v, const float* scale,
                           const float* zero_point, float* y, ASoftmaxParams p) {
  launch_elementwise("asoftmax_forward", p.channels * p.inner,
                     ASoftmaxForwardOp{w_floor, v, scale, zero_point, y, p});
}

void asoftmax_backward_cuda(const float* w_floor, const float* v, const float* scale,
                            const float* zero_point, const float* gy, float* gv, ASoftmaxParams p) {
  launch_elementwise("asoftmax_backward", p.channels * p.inner,
                     ASoftmaxBackwardOp{w_floor, v, scale, zero_point, gy, gv, p});
}

void asoftmax_init_cuda(const float* frac, float* v, ASoftmaxParams p) {
  launch_elementwise("asoftmax_init", p.channels * p.inner, ASoftmaxInitOp{frac, v, p});
}

void hard_round_asoftmax_cuda(const float* v, float* r, ASoftmaxParams p) {
  launch_elementwise("hard_round_asoftmax", p.channels * p.inner, HardRoundASoftmaxOp{v, r, p});
}

}  // namespace nwq
