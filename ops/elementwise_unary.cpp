// Unary elementwise ops (neg, square, exp, log, sigmoid, clamp, abs, sqrt, pow, arithmetic with a
// double) as one kernel pair switched on UnaryOp, plus where, greater and dropout.
// Each op saves only what its backward reads: its input, its output, or nothing.
#include <cmath>

#include "autograd/node.h"
#include "core/rng.h"
#include "ops/elementwise.h"

namespace nwq {

static constexpr int64_t kParallelMin = 1 << 16;  // below this, threads cost more than they save

// ---------------------------------------------------------------- CPU kernels

template <class T, class F>
static void map_cpu(const T* x, T* y, int64_t n, F f) {
#pragma omp parallel for simd if (parallel : n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}

// gx[i] = f(u[i], gy[i]), where u is the saved input or output (or gy itself when none is read).
template <class U, class T, class F>
static void map2_cpu(const U* u, const T* gy, T* gx, int64_t n, F f) {
#pragma omp parallel for simd if (parallel : n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) gx[i] = f(u[i], gy[i]);
}

template <class T>
static void unary_forward_cpu(const T* x, T* y, int64_t n, UnaryParams p) {
  const T s0 = static_cast<T>(p.s0), s1 = static_cast<T>(p.s1);
  switch (p.op) {
    case UnaryOp::Neg: return map_cpu(x, y, n, [](T v) { return -v; });
    case UnaryOp::Square: return map_cpu(x, y, n, [](T v) { return v * v; });
    case UnaryOp::Exp: return map_cpu(x, y, n, [](T v) { return std::exp(v); });
    case UnaryOp::Log: return map_cpu(x, y, n, [](T v) { return std::log(v); });
    case UnaryOp::Sigmoid:
      return map_cpu(x, y, n, [](T v) { return T(1) / (T(1) + std::exp(-v)); });
    case UnaryOp::Clamp:
      return map_cpu(x, y, n, [=](T v) { return v < s0 ? s0 : (v > s1 ? s1 : v); });
    case UnaryOp::Abs: return map_cpu(x, y, n, [](T v) { return std::abs(v); });
    case UnaryOp::Sqrt: return map_cpu(x, y, n, [](T v) { return std::sqrt(v); });
    case UnaryOp::Pow: return map_cpu(x, y, n, [=](T v) { return std::pow(v, s0); });
    case UnaryOp::AddScalar: return map_cpu(x, y, n, [=](T v) { return v + s0; });
    case UnaryOp::MulScalar: return map_cpu(x, y, n, [=](T v) { return v * s0; });
    case UnaryOp::DivScalar: return map_cpu(x, y, n, [=](T v) { return v / s0; });
    case UnaryOp::RSubScalar: return map_cpu(x, y, n, [=](T v) { return s0 - v; });
    case UnaryOp::RDivScalar: return map_cpu(x, y, n, [=](T v) { return s0 / v; });
  }
}

template <class T>
static void unary_backward_cpu(const T* x, const T* y, const T* gy, T* gx, int64_t n,
                               UnaryParams p) {
  const T s0 = static_cast<T>(p.s0), s1 = static_cast<T>(p.s1);
  switch (p.op) {
    case UnaryOp::Neg:
    case UnaryOp::RSubScalar: return map2_cpu(gy, gy, gx, n, [](T, T g) { return -g; });
    case UnaryOp::AddScalar: return map2_cpu(gy, gy, gx, n, [](T, T g) { return g; });
    case UnaryOp::MulScalar: return map2_cpu(gy, gy, gx, n, [=](T, T g) { return g * s0; });
    case UnaryOp::DivScalar: return map2_cpu(gy, gy, gx, n, [=](T, T g) { return g / s0; });
    case UnaryOp::Square: return map2_cpu(x, gy, gx, n, [](T v, T g) { return T(2) * v * g; });
    case UnaryOp::Exp: return map2_cpu(y, gy, gx, n, [](T e, T g) { return e * g; });
    case UnaryOp::Log: return map2_cpu(x, gy, gx, n, [](T v, T g) { return g / v; });
    case UnaryOp::Sigmoid:
      return map2_cpu(y, gy, gx, n, [](T s, T g) { return g * s * (T(1) - s); });
    case UnaryOp::Clamp:
      return map2_cpu(x, gy, gx, n, [=](T v, T g) { return v > s0 && v < s1 ? g : T(0); });
    case UnaryOp::Abs:
      return map2_cpu(x, gy, gx, n, [](T v, T g) { return v > 0 ? g : (v < 0 ? -g : T(0)); });
    case UnaryOp::Sqrt: return map2_cpu(y, gy, gx, n, [](T r, T g) { return g / (T(2) * r); });
    case UnaryOp::Pow:  // p * x^(p-1); exactly 0 for p == 0 (no 0 * inf at x == 0)
      return map2_cpu(x, gy, gx, n, [=](T v, T g) {
        return s0 == T(0) ? T(0) : s0 * std::pow(v, s0 - T(1)) * g;
      });
    case UnaryOp::RDivScalar:  // d(s/x)/dx = -s / x^2
      return map2_cpu(x, gy, gx, n, [=](T v, T g) { return -s0 * g / (v * v); });
  }
}

KernelSlot<UnaryFwdFn> unary_forward_kernel{"unary_forward", unary_forward_cpu<float>,
                                            unary_forward_cpu<double>};
KernelSlot<UnaryBwdFn> unary_backward_kernel{"unary_backward", unary_backward_cpu<float>,
                                             unary_backward_cpu<double>};

template <class T>
static void where_forward_cpu(const uint8_t* mask, const T* a, const T* b, T* y, int64_t n) {
#pragma omp parallel for simd if (parallel : n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = mask[i] ? a[i] : b[i];
}

template <class T>
static void where_backward_cpu(const uint8_t* mask, const T* gy, T* ga, T* gb, int64_t n) {
  if (ga) map2_cpu(mask, gy, ga, n, [](uint8_t m, T g) { return m ? g : T(0); });
  if (gb) map2_cpu(mask, gy, gb, n, [](uint8_t m, T g) { return m ? T(0) : g; });
}

template <class T>
static void greater_cpu(const T* x, uint8_t* y, int64_t n, T v) {
#pragma omp parallel for simd if (parallel : n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > v ? 1 : 0;
}

KernelSlot<WhereFwdFn> where_forward_kernel{"where_forward", where_forward_cpu<float>,
                                            where_forward_cpu<double>};
KernelSlot<WhereBwdFn> where_backward_kernel{"where_backward", where_backward_cpu<float>,
                                             where_backward_cpu<double>};
KernelSlot<GreaterFn> greater_kernel{"greater", greater_cpu<float>, greater_cpu<double>};

// ---------------------------------------------------------------- differentiable ops

enum class Saved { Nothing, Input, Output };

static Saved saved_for(UnaryOp op) {
  switch (op) {
    case UnaryOp::Exp: case UnaryOp::Sigmoid: case UnaryOp::Sqrt: return Saved::Output;
    case UnaryOp::Square: case UnaryOp::Log: case UnaryOp::Clamp: case UnaryOp::Abs:
    case UnaryOp::Pow: case UnaryOp::RDivScalar: return Saved::Input;
    default: return Saved::Nothing;
  }
}

template <class T>
static const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

static Tensor unary(const char* name, UnaryParams p, const Tensor& x_in) {
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.sizes(), x.dtype(), x.device());
  visit_float(x.dtype(), name, [&](auto zero) {
    using T = decltype(zero);
    unary_forward_kernel.get<T>(x.device())(x.data<T>(), y.data<T>(), x.numel(), p);
  });
  if (should_record({x_in})) {
    const Saved saved = saved_for(p.op);
    Tensor sx = saved == Saved::Input ? x.detach() : Tensor();
    Tensor sy = saved == Saved::Output ? y.detach() : Tensor();
    record(name, {x_in}, y, [sx, sy, name, p](const Tensor& gy_in, const std::vector<bool>&) {
      Tensor gy = gy_in.contiguous();
      Tensor gx = Tensor::empty(gy.sizes(), gy.dtype(), gy.device());
      visit_float(gy.dtype(), name, [&](auto zero) {
        using T = decltype(zero);
        unary_backward_kernel.get<T>(gy.device())(data_or_null<T>(sx), data_or_null<T>(sy),
                                                  gy.data<T>(), gx.data<T>(), gy.numel(), p);
      });
      return std::vector<Tensor>{gx};
    });
  }
  return y;
}

Tensor neg(const Tensor& x) { return unary("neg", {UnaryOp::Neg}, x); }
Tensor square(const Tensor& x) { return unary("square", {UnaryOp::Square}, x); }
Tensor exp(const Tensor& x) { return unary("exp", {UnaryOp::Exp}, x); }
Tensor log(const Tensor& x) { return unary("log", {UnaryOp::Log}, x); }
Tensor sigmoid(const Tensor& x) { return unary("sigmoid", {UnaryOp::Sigmoid}, x); }
Tensor abs(const Tensor& x) { return unary("abs", {UnaryOp::Abs}, x); }
Tensor sqrt(const Tensor& x) { return unary("sqrt", {UnaryOp::Sqrt}, x); }
Tensor pow(const Tensor& x, double p) { return unary("pow", {UnaryOp::Pow, p}, x); }

Tensor clamp(const Tensor& x, double lo, double hi) {
  NWQ_CHECK(lo <= hi, "clamp: lo ", lo, " > hi ", hi, " for ", x.describe());
  return unary("clamp", {UnaryOp::Clamp, lo, hi}, x);
}

// x - s is x + (-s) exactly in IEEE arithmetic, so sub shares the AddScalar kernel.
Tensor add(const Tensor& x, double s) { return unary("add", {UnaryOp::AddScalar, s}, x); }
Tensor sub(const Tensor& x, double s) { return unary("sub", {UnaryOp::AddScalar, -s}, x); }
Tensor mul(const Tensor& x, double s) { return unary("mul", {UnaryOp::MulScalar, s}, x); }
Tensor div(const Tensor& x, double s) { return unary("div", {UnaryOp::DivScalar, s}, x); }
Tensor rsub(double s, const Tensor& x) { return unary("rsub", {UnaryOp::RSubScalar, s}, x); }
Tensor rdiv(double s, const Tensor& x) { return unary("rdiv", {UnaryOp::RDivScalar, s}, x); }

Tensor where(const Tensor& mask_in, const Tensor& a_in, const Tensor& b_in) {
  check_same("where", {a_in, b_in});
  NWQ_CHECK(mask_in.dtype() == DType::U8 && mask_in.device() == a_in.device(),
            "where: mask must be a uint8 tensor on ", a_in.device().name(), ", got ",
            mask_in.describe());
  NWQ_CHECK(mask_in.sizes() == a_in.sizes() && a_in.sizes() == b_in.sizes(),
            "where: shapes differ: mask ", shape_str(mask_in.sizes()), ", a ",
            shape_str(a_in.sizes()), ", b ", shape_str(b_in.sizes()));
  Tensor mask = mask_in.contiguous(), a = a_in.contiguous(), b = b_in.contiguous();
  Tensor y = Tensor::empty(a.sizes(), a.dtype(), a.device());
  visit_float(a.dtype(), "where", [&](auto zero) {
    using T = decltype(zero);
    where_forward_kernel.get<T>(a.device())(mask.data<uint8_t>(), a.data<T>(), b.data<T>(),
                                            y.data<T>(), a.numel());
  });
  if (should_record({a_in, b_in})) {
    record("where", {a_in, b_in}, y,
           [mask = mask.detach()](const Tensor& gy_in, const std::vector<bool>& needs) {
             Tensor gy = gy_in.contiguous(), ga, gb;
             if (needs[0]) ga = Tensor::empty(gy.sizes(), gy.dtype(), gy.device());
             if (needs[1]) gb = Tensor::empty(gy.sizes(), gy.dtype(), gy.device());
             visit_float(gy.dtype(), "where", [&](auto zero) {
               using T = decltype(zero);
               where_backward_kernel.get<T>(gy.device())(
                   mask.data<uint8_t>(), gy.data<T>(), needs[0] ? ga.data<T>() : nullptr,
                   needs[1] ? gb.data<T>() : nullptr, gy.numel());
             });
             return std::vector<Tensor>{ga, gb};
           });
  }
  return y;
}

Tensor greater(const Tensor& x_in, double v) {
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.sizes(), DType::U8, x.device());
  visit_float(x.dtype(), "greater", [&](auto zero) {
    using T = decltype(zero);
    greater_kernel.get<T>(x.device())(x.data<T>(), y.data<uint8_t>(), x.numel(),
                                      static_cast<T>(v));
  });
  return y;
}

// The mask holds 0 or 1/(1-p) in x's dtype and multiplies x, so the gradient is gy * mask.
Tensor dropout(const Tensor& x, double p, bool training, Rng& rng) {
  NWQ_CHECK(p >= 0.0 && p <= 1.0, "dropout: p must be in [0, 1], got ", p, " for ",
            x.describe());
  if (!training || p == 0.0) return x;
  const double scale = p < 1.0 ? 1.0 / (1.0 - p) : 0.0;
  Tensor mask;
  visit_float(x.dtype(), "dropout", [&](auto zero) {
    using T = decltype(zero);
    std::vector<T> keep(static_cast<size_t>(x.numel()));
    for (T& k : keep) k = rng.bernoulli(1.0 - p) ? static_cast<T>(scale) : T(0);
    mask = Tensor::from_vector(keep, x.sizes(), x.device());
  });
  return mul(x, mask);
}

}  // namespace nwq
