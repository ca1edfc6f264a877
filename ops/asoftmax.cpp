// ASoftmax (NWQ): the CPU kernels of the soft weight over candidates, its gradient, the initial
// logits and the hardening, and the autograd wiring. Elementwise over the weight.
#include "ops/asoftmax.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/soft_round_weight.h"

namespace nwq {

// ---------------------------------------------------------------- CPU kernels

// Softmax over the k candidates of weight j (v is [k, N]): the maximum logit, the denominator
// and r = sum_k (n + k) p_k.
template <class T>
struct CandidateSoftmax {
  T max, denom, r;
};

template <class T>
static CandidateSoftmax<T> candidate_softmax(const T* v, int64_t j, const ASoftmaxParams& p) {
  const int64_t N = p.channels * p.inner;
  const T inv_tau = T(p.inv_tau);
  T mx = v[j];
  for (int64_t k = 1; k < p.k; ++k) mx = std::max(mx, v[k * N + j]);
  T denom = 0, num = 0;
  for (int64_t k = 0; k < p.k; ++k) {
    const T e = std::exp((v[k * N + j] - mx) * inv_tau);
    denom += e;
    num += T(p.n + k) * e;
  }
  return {mx, denom, num / denom};
}

template <class T>
static void asoftmax_forward_cpu(const T* w_floor, const T* v, const T* scale, const T* zero_point,
                                 T* y, ASoftmaxParams p) {
  const int64_t n = p.channels * p.inner;
  const T qmin = T(p.qmin), qmax = T(p.qmax);
#pragma omp parallel for if (n > kSoftRoundParallelMin)
  for (int64_t j = 0; j < n; ++j) {
    const int64_t c = soft_weight_channel(j, p.channels, p.inner);
    const T z = zero_point ? zero_point[c] : T(0);
    y[j] = soft_dequantize(w_floor[j], candidate_softmax(v, j, p).r, z, scale[c], qmin, qmax);
  }
}

// gv[k, j] = gr * p_k * ((n + k) - r) / tau with gr = gy * s inside the grid, 0 outside.
template <class T>
static void asoftmax_backward_cpu(const T* w_floor, const T* v, const T* scale, const T* zero_point,
                                  const T* gy, T* gv, ASoftmaxParams p) {
  const int64_t n = p.channels * p.inner;
  const T qmin = T(p.qmin), qmax = T(p.qmax), inv_tau = T(p.inv_tau);
#pragma omp parallel for if (n > kSoftRoundParallelMin)
  for (int64_t j = 0; j < n; ++j) {
    const int64_t c = soft_weight_channel(j, p.channels, p.inner);
    const T z = zero_point ? zero_point[c] : T(0);
    const CandidateSoftmax<T> sm = candidate_softmax(v, j, p);
    const T gr = soft_inside_grid(w_floor[j], sm.r, z, qmin, qmax) ? gy[j] * scale[c] : T(0);
    for (int64_t k = 0; k < p.k; ++k) {
      const T prob = std::exp((v[k * n + j] - sm.max) * inv_tau) / sm.denom;
      gv[k * n + j] = gr * prob * (T(p.n + k) - sm.r) * inv_tau;
    }
  }
}

// Probability of candidate n + c for fraction f (see asoftmax_init_logits in the header).
static double init_probability(double f, int64_t c, const ASoftmaxParams& p) {
  const double eps = kASoftmaxInitFloor, rest = 1.0 - double(p.k) * eps;
  const double first = double(p.n), last = double(p.n + p.k - 1);
  const double cand_sum = double(p.k) * (first + last) / 2;
  f = f < 0 ? 0 : (f > 1 ? 1 : f);
  double mu = (f - eps * cand_sum) / rest;  // the mean the two neighbours must give
  mu = mu < first ? first : (mu > last ? last : mu);
  const double lo = std::min(std::floor(mu), last - 1), w = mu - lo, cand = double(p.n + c);
  return eps + (cand == lo ? rest * (1 - w) : 0.0) + (cand == lo + 1 ? rest * w : 0.0);
}

template <class T>
static void asoftmax_init_cpu(const T* frac, T* v, ASoftmaxParams p) {
  const int64_t n = p.channels * p.inner;
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t c = 0; c < p.k; ++c) {
      v[c * n + j] = static_cast<T>(std::log(init_probability(double(frac[j]), c, p)));
    }
  }
}

template <class T>
static void hard_round_asoftmax_cpu(const T* v, T* r, ASoftmaxParams p) {
  const int64_t n = p.channels * p.inner;
  for (int64_t j = 0; j < n; ++j) {
    int64_t best = 0;
    for (int64_t k = 1; k < p.k; ++k) best = v[k * n + j] > v[best * n + j] ? k : best;
    r[j] = static_cast<T>(p.n + best);
  }
}

KernelSlot<ASoftmaxFwdFn> asoftmax_forward_kernel{"asoftmax_forward", asoftmax_forward_cpu<float>,
                                                  asoftmax_forward_cpu<double>};
KernelSlot<ASoftmaxBwdFn> asoftmax_backward_kernel{
    "asoftmax_backward", asoftmax_backward_cpu<float>, asoftmax_backward_cpu<double>};
KernelSlot<ASoftmaxInitFn> asoftmax_init_kernel{"asoftmax_init", asoftmax_init_cpu<float>,
                                                asoftmax_init_cpu<double>};
KernelSlot<HardRoundASoftmaxFn> hard_round_asoftmax_kernel{
    "hard_round_asoftmax", hard_round_asoftmax_cpu<float>, hard_round_asoftmax_cpu<double>};

// ---------------------------------------------------------------- ops

Tensor asoftmax_soft_weight(const Tensor& w_floor, const Tensor& v, int64_t n, double tau,
                            const Tensor& scale, const Tensor& zero_point, int64_t qmin,
                            int64_t qmax) {
  const char* op = "asoftmax_soft_weight";
  const SoftWeightView view = soft_weight_view(op, w_floor, scale, zero_point, qmin, qmax);
  NWQ_CHECK(tau > 0 && std::isfinite(tau), op, ": tau must be positive, got ", tau);
  NWQ_CHECK(v.defined() && v.dim() == w_floor.dim() + 1 && v.size(0) >= 1 &&
                Shape(v.sizes().begin() + 1, v.sizes().end()) == w_floor.sizes(),
            op, ": v ", v.defined() ? shape_str(v.sizes()) : "undefined",
            " must be [K, ...w_floor.shape] for w_floor ", shape_str(w_floor.sizes()));
  const ASoftmaxParams p{view.channels, view.inner,   n,           v.size(0),
                         1.0 / tau,     double(qmin), double(qmax)};
  return soft_weight(op, asoftmax_forward_kernel, asoftmax_backward_kernel, w_floor, v, scale,
                     zero_point, p);
}

Tensor asoftmax_init_logits(const Tensor& frac_in, int64_t n, int64_t m) {
  NWQ_CHECK(frac_in.defined(), "asoftmax_init_logits: frac must be defined");
  NWQ_CHECK(n <= 0 && m >= 1 && m - n < 1000, "asoftmax_init_logits: candidates ", n, "..", m,
            " must include 0 and 1 (n <= 0 < 1 <= m, at most 1000 of them)");
  Tensor frac = frac_in.contiguous();
  Shape shape = frac.sizes();
  shape.insert(shape.begin(), m - n + 1);
  Tensor v = Tensor::empty(shape, frac.dtype(), frac.device());
  const ASoftmaxParams p{1, frac.numel(), n, m - n + 1, 1.0, 0, 0};
  visit_float(frac.dtype(), "asoftmax_init_logits", [&](auto zero) {
    using T = decltype(zero);
    asoftmax_init_kernel.get<T>(frac.device())(frac.data<T>(), v.data<T>(), p);
  });
  return v;
}

Tensor hard_round_asoftmax(const Tensor& v_in, int64_t n) {
  NWQ_CHECK(v_in.defined() && v_in.dim() >= 1 && v_in.size(0) >= 1, "hard_round_asoftmax: v ",
            v_in.defined() ? shape_str(v_in.sizes()) : "undefined", " must be [K, ...]");
  Tensor v = v_in.contiguous();
  Tensor r = Tensor::empty(Shape(v.sizes().begin() + 1, v.sizes().end()), v.dtype(), v.device());
  const ASoftmaxParams p{1, r.numel(), n, v.size(0), 1.0, 0, 0};
  visit_float(v.dtype(), "hard_round_asoftmax", [&](auto zero) {
    using T = decltype(zero);
    hard_round_asoftmax_kernel.get<T>(v.device())(v.data<T>(), r.data<T>(), p);
  });
  return r;
}

}  // namespace nwq
