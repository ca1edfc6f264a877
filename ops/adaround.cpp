// AdaRound: the CPU kernels of the rectified sigmoid, its regularizer, the soft weight and the
// hardening, and the autograd wiring. Elementwise over the weight; the regularizer's sum uses
// fixed chunks.
#include "ops/adaround.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "autograd/node.h"
#include "ops/soft_round_weight.h"

namespace nwq {

static constexpr int64_t kChunk = 1 << 14;  // elements per partial sum of the regularizer (fixed)

// ---------------------------------------------------------------- CPU kernels

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

template <class T>
static void adaround_forward_cpu(const T* w_floor, const T* v, const T* scale, const T* zero_point,
                                 T* y, AdaRoundParams p) {
  const int64_t n = p.channels * p.inner;
  const T qmin = T(p.qmin), qmax = T(p.qmax);
#pragma omp parallel for if (n > kSoftRoundParallelMin)
  for (int64_t j = 0; j < n; ++j) {
    const int64_t c = soft_weight_channel(j, p.channels, p.inner);
    const T z = zero_point ? zero_point[c] : T(0);
    T dh;
    const T r = rectified_sigmoid(v[j], p, &dh);
    y[j] = soft_dequantize(w_floor[j], r, z, scale[c], qmin, qmax);
  }
}

template <class T>
static void adaround_backward_cpu(const T* w_floor, const T* v, const T* scale, const T* zero_point,
                                  const T* gy, T* gv, AdaRoundParams p) {
  const int64_t n = p.channels * p.inner;
  const T qmin = T(p.qmin), qmax = T(p.qmax);
#pragma omp parallel for if (n > kSoftRoundParallelMin)
  for (int64_t j = 0; j < n; ++j) {
    const int64_t c = soft_weight_channel(j, p.channels, p.inner);
    const T z = zero_point ? zero_point[c] : T(0);
    T dh;
    const T r = rectified_sigmoid(v[j], p, &dh);
    gv[j] = soft_inside_grid(w_floor[j], r, z, qmin, qmax) ? gy[j] * scale[c] * dh : T(0);
  }
}

template <class T>
static void adaround_h_forward_cpu(const T* v, T* h, AdaRoundParams p) {
  const int64_t n = p.channels * p.inner;
#pragma omp parallel for if (n > kSoftRoundParallelMin)
  for (int64_t j = 0; j < n; ++j) {
    T dh;
    h[j] = rectified_sigmoid(v[j], p, &dh);
  }
}

template <class T>
static void adaround_h_backward_cpu(const T* v, const T* gh, T* gv, AdaRoundParams p) {
  const int64_t n = p.channels * p.inner;
#pragma omp parallel for if (n > kSoftRoundParallelMin)
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
#pragma omp parallel for if (n > kSoftRoundParallelMin)
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
#pragma omp parallel for if (n > kSoftRoundParallelMin)
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

// ---------------------------------------------------------------- ops

static void check_stretch(const char* op, double zeta, double gamma) {
  NWQ_CHECK(gamma < 0 && zeta > 1, op, ": need gamma < 0 < 1 < zeta, got zeta ", zeta, " gamma ",
            gamma);
}

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
  const SoftWeightView view = soft_weight_view(op, w_floor, scale, zero_point, qmin, qmax);
  const AdaRoundParams p{view.channels, view.inner, double(qmin), double(qmax), zeta, gamma, 2.0};
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

}  // namespace nwq
