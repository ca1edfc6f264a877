// Soft rounding of weights: the CPU kernels of AdaRound (rectified sigmoid, regularizer, soft
// weight, hardening) and of ASoftmax (soft weight, initial logits, hardening), and the autograd
// wiring. Kernels are elementwise over the weight; the regularizer's sum uses fixed chunks.
#include "ops/soft_round.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "autograd/node.h"

namespace nwq {

static constexpr int64_t kParallelMin = 1 << 15;  // below this, threads cost more than they save
static constexpr int64_t kChunk = 1 << 14;  // elements per partial sum of the regularizer (fixed)

// ---------------------------------------------------------------- AdaRound CPU kernels

// h(v) = clamp(sigmoid(v) * (zeta - gamma) + gamma, 0, 1); *dh = dh/dv (0 where clamped).
template <class T>
static T rectified_sigmoid(T v, const AdaRoundParams& p, T* dh) {
  const T zeta = T(p.zeta), gamma = T(p.gamma);
  const T sg = T(1) / (T(1) + std::exp(-v));
  const T raw = sg * (zeta - gamma) + gamma;
  *dh = (raw >= T(0) && raw <= T(1)) ? sg * (T(1) - sg) * (zeta - gamma) : T(0);
  return raw < T(0) ? T(0) : (raw > T(1) ? T(1) : raw);
}

// The regularizer term 1 - |2h - 1|^beta of one element and its derivative in v.
template <class T>
static double regularizer_term(T v, const AdaRoundParams& p, double* dterm) {
  T dh;
  const double u = 2.0 * double(rectified_sigmoid(v, p, &dh)) - 1.0;
  const double au = std::fabs(u);
  *dterm = au == 0.0 ? 0.0 : -p.beta * std::pow(au, p.beta - 1.0) * (u > 0 ? 2.0 : -2.0) * dh;
  return 1.0 - std::pow(au, p.beta);
}

static int64_t channel_of(int64_t j, const AdaRoundParams& p) {
  return p.channels == 1 ? 0 : j / p.inner;
}

template <class T>
static void adaround_forward_cpu(const T* w_floor, const T* v, const T* scale, const T* zero_point,
                                 T* y, AdaRoundParams p) {
  const int64_t n = p.channels * p.inner;
  const T qmin = T(p.qmin), qmax = T(p.qmax);
#pragma omp parallel for if (n > kParallelMin)
  for (int64_t j = 0; j < n; ++j) {
    const int64_t c = channel_of(j, p);
    const T z = zero_point ? zero_point[c] : T(0);
    T dh, t = w_floor[j] + rectified_sigmoid(v[j], p, &dh) + z;
    t = t < qmin ? qmin : (t > qmax ? qmax : t);
    y[j] = scale[c] > T(0) ? scale[c] * (t - z) : std::numeric_limits<T>::quiet_NaN();
  }
}

template <class T>
static void adaround_backward_cpu(const T* w_floor, const T* v, const T* scale, const T* zero_point,
                                  const T* gy, T* gv, AdaRoundParams p) {
  const int64_t n = p.channels * p.inner;
  const T qmin = T(p.qmin), qmax = T(p.qmax);
#pragma omp parallel for if (n > kParallelMin)
  for (int64_t j = 0; j < n; ++j) {
    const int64_t c = channel_of(j, p);
    const T z = zero_point ? zero_point[c] : T(0);
    T dh;
    const T t = w_floor[j] + rectified_sigmoid(v[j], p, &dh) + z;
    gv[j] = (t >= qmin && t <= qmax) ? gy[j] * scale[c] * dh : T(0);
  }
}

template <class T>
static void adaround_h_forward_cpu(const T* v, T* h, AdaRoundParams p) {
  const int64_t n = p.channels * p.inner;
#pragma omp parallel for if (n > kParallelMin)
  for (int64_t j = 0; j < n; ++j) {
    T dh;
    h[j] = rectified_sigmoid(v[j], p, &dh);
  }
}

template <class T>
static void adaround_h_backward_cpu(const T* v, const T* gh, T* gv, AdaRoundParams p) {
  const int64_t n = p.channels * p.inner;
#pragma omp parallel for if (n > kParallelMin)
  for (int64_t j = 0; j < n; ++j) {
    T dh;
    rectified_sigmoid(v[j], p, &dh);
    gv[j] = gh[j] * dh;
  }
}

// Fixed chunks summed in parallel, then added in chunk order: independent of the thread count.
template <class T>
static void adaround_reg_forward_cpu(const T* v, T* out, AdaRoundParams p) {
  const int64_t n = p.channels * p.inner, chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(static_cast<size_t>(chunks));
#pragma omp parallel for if (n > kParallelMin)
  for (int64_t k = 0; k < chunks; ++k) {
    double acc = 0, unused;
    for (int64_t j = k * kChunk; j < std::min(n, (k + 1) * kChunk); ++j) {
      acc += regularizer_term(v[j], p, &unused);
    }
    partial[k] = acc;
  }
  double sum = 0;
  for (double s : partial) sum += s;
  out[0] = static_cast<T>(sum);
}

template <class T>
static void adaround_reg_backward_cpu(const T* v, const T* g, T* gv, AdaRoundParams p) {
  const int64_t n = p.channels * p.inner;
  const double g0 = double(g[0]);
#pragma omp parallel for if (n > kParallelMin)
  for (int64_t j = 0; j < n; ++j) {
    double dterm;
    regularizer_term(v[j], p, &dterm);
    gv[j] = static_cast<T>(g0 * dterm);
  }
}

template <class T>
static void hard_round_adaround_cpu(const T* v, T* r, int64_t n) {
  for (int64_t j = 0; j < n; ++j) r[j] = v[j] >= T(0) ? T(1) : T(0);
}

KernelSlot<AdaRoundFwdFn> adaround_forward_kernel{"adaround_forward", adaround_forward_cpu<float>,
                                                  adaround_forward_cpu<double>};
KernelSlot<AdaRoundBwdFn> adaround_backward_kernel{
    "adaround_backward", adaround_backward_cpu<float>, adaround_backward_cpu<double>};
KernelSlot<AdaRoundHFwdFn> adaround_h_forward_kernel{
    "adaround_h_forward", adaround_h_forward_cpu<float>, adaround_h_forward_cpu<double>};
KernelSlot<AdaRoundHBwdFn> adaround_h_backward_kernel{
    "adaround_h_backward", adaround_h_backward_cpu<float>, adaround_h_backward_cpu<double>};
KernelSlot<AdaRoundRegFwdFn> adaround_reg_forward_kernel{
    "adaround_reg_forward", adaround_reg_forward_cpu<float>, adaround_reg_forward_cpu<double>};
KernelSlot<AdaRoundRegBwdFn> adaround_reg_backward_kernel{
    "adaround_reg_backward", adaround_reg_backward_cpu<float>, adaround_reg_backward_cpu<double>};
KernelSlot<HardRoundAdaRoundFn> hard_round_adaround_kernel{
    "hard_round_adaround", hard_round_adaround_cpu<float>, hard_round_adaround_cpu<double>};

// ---------------------------------------------------------------- ASoftmax CPU kernels

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
#pragma omp parallel for if (n > kParallelMin)
  for (int64_t j = 0; j < n; ++j) {
    const int64_t c = p.channels == 1 ? 0 : j / p.inner;
    const T z = zero_point ? zero_point[c] : T(0);
    T t = w_floor[j] + candidate_softmax(v, j, p).r + z;
    t = t < qmin ? qmin : (t > qmax ? qmax : t);
    y[j] = scale[c] > T(0) ? scale[c] * (t - z) : std::numeric_limits<T>::quiet_NaN();
  }
}

// gv[k, j] = gr * p_k * ((n + k) - r) / tau with gr = gy * s inside the grid, 0 outside.
template <class T>
static void asoftmax_backward_cpu(const T* w_floor, const T* v, const T* scale, const T* zero_point,
                                  const T* gy, T* gv, ASoftmaxParams p) {
  const int64_t n = p.channels * p.inner;
  const T qmin = T(p.qmin), qmax = T(p.qmax), inv_tau = T(p.inv_tau);
#pragma omp parallel for if (n > kParallelMin)
  for (int64_t j = 0; j < n; ++j) {
    const int64_t c = p.channels == 1 ? 0 : j / p.inner;
    const T z = zero_point ? zero_point[c] : T(0);
    const CandidateSoftmax<T> sm = candidate_softmax(v, j, p);
    const T t = w_floor[j] + sm.r + z;
    const T gr = (t >= qmin && t <= qmax) ? gy[j] * scale[c] : T(0);
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

// ---------------------------------------------------------------- checks

// w_floor viewed as [channels, inner] for a scale of 1 or w_floor.size(0) elements.
static AdaRoundParams weight_view(const char* op, const Tensor& w_floor, const Tensor& scale,
                                  const Tensor& zero_point, int64_t qmin, int64_t qmax) {
  NWQ_CHECK(w_floor.defined() && scale.defined(), op, ": w_floor and scale must be defined");
  NWQ_CHECK(w_floor.dim() >= 1, op, ": w_floor must have at least one dim, got ",
            shape_str(w_floor.sizes()));
  NWQ_CHECK(qmin < qmax, op, ": qmin (", qmin, ") must be below qmax (", qmax, ")");
  const int64_t channels = scale.numel() == 1 ? 1 : w_floor.size(0);
  NWQ_CHECK(scale.numel() == channels, op, ": scale ", shape_str(scale.sizes()), " must have 1 or ",
            w_floor.size(0), " elements for w_floor ", shape_str(w_floor.sizes()));
  NWQ_CHECK(!zero_point.defined() || zero_point.numel() == channels, op, ": zero_point ",
            shape_str(zero_point.sizes()), " must have ", channels, " element(s) like scale ",
            shape_str(scale.sizes()));
  check_same(op, {w_floor, scale, zero_point});
  if (scale.device().is_cpu()) {  // CUDA: no sync per call; the kernels write NaN instead
    Tensor s = scale.contiguous().to(DType::F64);
    for (int64_t c = 0; c < channels; ++c) {
      NWQ_CHECK(s.data<double>()[c] > 0, op, ": scale must be positive, got ", s.data<double>()[c],
                " at channel ", c);
    }
  }
  const int64_t inner = channels == 0 ? 0 : w_floor.numel() / channels;
  return AdaRoundParams{channels, inner, double(qmin), double(qmax), 1.1, -0.1, 2.0};
}

static void check_stretch(const char* op, double zeta, double gamma) {
  NWQ_CHECK(gamma < 0 && zeta > 1, op, ": need gamma < 0 < 1 < zeta, got zeta ", zeta, " gamma ",
            gamma);
}

template <class T>
static const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// The wiring shared by both soft weights: y (w_floor's shape) = fwd(w_floor, v, scale, z), and
// a node whose backward gives v its gradient through bwd (the other inputs get none).
template <template <class> class Fwd, template <class> class Bwd, class Params>
static Tensor soft_weight(const char* op, const KernelSlot<Fwd>& fwd, const KernelSlot<Bwd>& bwd,
                          const Tensor& w_floor_in, const Tensor& v_in, const Tensor& scale_in,
                          const Tensor& zero_point_in, Params p) {
  check_same(op, {w_floor_in, v_in});
  Tensor w_floor = w_floor_in.contiguous().detach(), v = v_in.contiguous().detach();
  Tensor scale = scale_in.contiguous().detach(), zero_point;
  if (zero_point_in.defined()) zero_point = zero_point_in.contiguous().detach();
  Tensor y = Tensor::empty(w_floor.sizes(), v.dtype(), v.device());
  visit_float(v.dtype(), op, [&](auto zero) {
    using T = decltype(zero);
    fwd.template get<T>(v.device())(w_floor.data<T>(), v.data<T>(), scale.data<T>(),
                                    data_or_null<T>(zero_point), y.data<T>(), p);
  });
  if (!should_record({v_in})) return y;
  record(op, {v_in}, y, [=, &bwd](const Tensor& gy_in, const std::vector<bool>&) {
    Tensor gy = gy_in.contiguous(), gv = Tensor::empty(v.sizes(), v.dtype(), v.device());
    visit_float(v.dtype(), op, [&](auto zero) {
      using T = decltype(zero);
      bwd.template get<T>(v.device())(w_floor.data<T>(), v.data<T>(), scale.data<T>(),
                                      data_or_null<T>(zero_point), gy.data<T>(), gv.data<T>(), p);
    });
    return std::vector<Tensor>{gv};
  });
  return y;
}

// ---------------------------------------------------------------- AdaRound ops

Tensor adaround_h(const Tensor& v_in, double zeta, double gamma) {
  check_stretch("adaround_h", zeta, gamma);
  Tensor v = v_in.contiguous(), h = Tensor::empty(v.sizes(), v.dtype(), v.device());
  const AdaRoundParams p{1, v.numel(), 0, 0, zeta, gamma, 0};
  visit_float(v.dtype(), "adaround_h", [&](auto zero) {
    using T = decltype(zero);
    adaround_h_forward_kernel.get<T>(v.device())(v.data<T>(), h.data<T>(), p);
  });
  if (!should_record({v_in})) return h;
  record(
      "adaround_h", {v_in}, h, [v = v.detach(), p](const Tensor& gh_in, const std::vector<bool>&) {
        Tensor gh = gh_in.contiguous(), gv = Tensor::empty(v.sizes(), v.dtype(), v.device());
        visit_float(v.dtype(), "adaround_h", [&](auto zero) {
          using T = decltype(zero);
          adaround_h_backward_kernel.get<T>(v.device())(v.data<T>(), gh.data<T>(), gv.data<T>(), p);
        });
        return std::vector<Tensor>{gv};
      });
  return h;
}

Tensor adaround_regularizer(const Tensor& v_in, double beta, double zeta, double gamma) {
  check_stretch("adaround_regularizer", zeta, gamma);
  NWQ_CHECK(beta >= 1.0, "adaround_regularizer: beta must be >= 1, got ", beta);
  Tensor v = v_in.contiguous(), out = Tensor::empty({}, v.dtype(), v.device());
  const AdaRoundParams p{1, v.numel(), 0, 0, zeta, gamma, beta};
  visit_float(v.dtype(), "adaround_regularizer", [&](auto zero) {
    using T = decltype(zero);
    adaround_reg_forward_kernel.get<T>(v.device())(v.data<T>(), out.data<T>(), p);
  });
  if (!should_record({v_in})) return out;
  record("adaround_regularizer", {v_in}, out,
         [v = v.detach(), p](const Tensor& g_in, const std::vector<bool>&) {
           Tensor g = g_in.contiguous(), gv = Tensor::empty(v.sizes(), v.dtype(), v.device());
           visit_float(v.dtype(), "adaround_regularizer", [&](auto zero) {
             using T = decltype(zero);
             adaround_reg_backward_kernel.get<T>(v.device())(v.data<T>(), g.data<T>(), gv.data<T>(),
                                                             p);
           });
           return std::vector<Tensor>{gv};
         });
  return out;
}

Tensor adaround_soft_weight(const Tensor& w_floor, const Tensor& v, const Tensor& scale,
                            const Tensor& zero_point, int64_t qmin, int64_t qmax, double zeta,
                            double gamma) {
  const char* op = "adaround_soft_weight";
  check_stretch(op, zeta, gamma);
  AdaRoundParams p = weight_view(op, w_floor, scale, zero_point, qmin, qmax);
  p.zeta = zeta;
  p.gamma = gamma;
  NWQ_CHECK(v.defined() && v.sizes() == w_floor.sizes(), op, ": v ",
            v.defined() ? shape_str(v.sizes()) : "undefined", " must have w_floor's shape ",
            shape_str(w_floor.sizes()));
  return soft_weight(op, adaround_forward_kernel, adaround_backward_kernel, w_floor, v, scale,
                     zero_point, p);
}

Tensor hard_round_adaround(const Tensor& v_in) {
  Tensor v = v_in.contiguous(), r = Tensor::empty(v.sizes(), v.dtype(), v.device());
  visit_float(v.dtype(), "hard_round_adaround", [&](auto zero) {
    using T = decltype(zero);
    hard_round_adaround_kernel.get<T>(v.device())(v.data<T>(), r.data<T>(), v.numel());
  });
  return r;
}

// ---------------------------------------------------------------- ASoftmax ops

Tensor asoftmax_soft_weight(const Tensor& w_floor, const Tensor& v, int64_t n, double tau,
                            const Tensor& scale, const Tensor& zero_point, int64_t qmin,
                            int64_t qmax) {
  const char* op = "asoftmax_soft_weight";
  const AdaRoundParams view = weight_view(op, w_floor, scale, zero_point, qmin, qmax);
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
