// CUDA twins of ops/elementwise_unary.cpp: the unary forward/backward pair (one instantiation per
// UnaryOp), where and greater. x, y, gy, gx, mask: n elements; every kernel assigns its outputs.
// Scalars are rounded to float on the host, as the CPU kernel rounds them to T.
#include "cuda/launch.cuh"
#include "ops/elementwise.h"

namespace nwq {

template <UnaryOp OP>
struct UnaryForwardOp {
  const float* x;
  float* y;
  float s0, s1;
  __device__ float apply(float v) const {
    if constexpr (OP == UnaryOp::Neg) return -v;
    else if constexpr (OP == UnaryOp::Square) return v * v;
    else if constexpr (OP == UnaryOp::Exp) return expf(v);
    else if constexpr (OP == UnaryOp::Log) return logf(v);
    else if constexpr (OP == UnaryOp::Sigmoid) return 1.0f / (1.0f + expf(-v));
    else if constexpr (OP == UnaryOp::Clamp) return v < s0 ? s0 : (v > s1 ? s1 : v);
    else if constexpr (OP == UnaryOp::Abs) return fabsf(v);
    else if constexpr (OP == UnaryOp::Sqrt) return sqrtf(v);
    else if constexpr (OP == UnaryOp::Pow) return powf(v, s0);
    else if constexpr (OP == UnaryOp::AddScalar) return v + s0;
    else if constexpr (OP == UnaryOp::MulScalar) return v * s0;
    else if constexpr (OP == UnaryOp::DivScalar) return v / s0;
    else if constexpr (OP == UnaryOp::RSubScalar) return s0 - v;
    else return s0 / v;  // RDivScalar
  }
  __device__ void operator()(int64_t i) const { y[i] = apply(x[i]); }
};

// gx = f(u, g) where u is the saved input x or output y (see ops/elementwise.h: which one each
// op reads), g = gy.
template <UnaryOp OP>
struct UnaryBackwardOp {
  const float* u;
  const float* gy;
  float* gx;
  float s0, s1;
  __device__ float apply(float v, float g) const {
    if constexpr (OP == UnaryOp::Neg || OP == UnaryOp::RSubScalar) return -g;
    else if constexpr (OP == UnaryOp::AddScalar) return g;
    else if constexpr (OP == UnaryOp::MulScalar) return g * s0;
    else if constexpr (OP == UnaryOp::DivScalar) return g / s0;
    else if constexpr (OP == UnaryOp::Square) return 2.0f * v * g;
    else if constexpr (OP == UnaryOp::Exp) return v * g;
    else if constexpr (OP == UnaryOp::Log) return g / v;
    else if constexpr (OP == UnaryOp::Sigmoid) return g * v * (1.0f - v);
    else if constexpr (OP == UnaryOp::Clamp) return v > s0 && v < s1 ? g : 0.0f;
    else if constexpr (OP == UnaryOp::Abs) return v > 0 ? g : (v < 0 ? -g : 0.0f);
    else if constexpr (OP == UnaryOp::Sqrt) return g / (2.0f * v);
    else if constexpr (OP == UnaryOp::Pow) return s0 == 0.0f ? 0.0f : s0 * powf(v, s0 - 1.0f) * g;
    else return -s0 * g / (v * v);  // RDivScalar: d(s/x)/dx = -s / x^2
  }
  __device__ void operator()(int64_t i) const { gx[i] = apply(u ? u[i] : 0.0f, gy[i]); }
};

// Which saved tensor the backward of OP reads: 0 none, 1 the input x, 2 the output y.
static int reads_for(UnaryOp op) {
  switch (op) {
    case UnaryOp::Exp: case UnaryOp::Sigmoid: case UnaryOp::Sqrt: return 2;
    case UnaryOp::Square: case UnaryOp::Log: case UnaryOp::Clamp: case UnaryOp::Abs:
    case UnaryOp::Pow: case UnaryOp::RDivScalar: return 1;
    default: return 0;
  }
}

// Calls F<op>::run(args...) for the runtime op: one switch shared by forward and backward.
template <template <UnaryOp> class F, class... Args>
static void dispatch_unary(UnaryOp op, Args... args) {
  switch (op) {
    case UnaryOp::Neg: return F<UnaryOp::Neg>::run(args...);
    case UnaryOp::Square: return F<UnaryOp::Square>::run(args...);
    case UnaryOp::Exp: return F<UnaryOp::Exp>::run(args...);
    case UnaryOp::Log: return F<UnaryOp::Log>::run(args...);
    case UnaryOp::Sigmoid: return F<UnaryOp::Sigmoid>::run(args...);
    case UnaryOp::Clamp: return F<UnaryOp::Clamp>::run(args...);
    case UnaryOp::Abs: return F<UnaryOp::Abs>::run(args...);
    case UnaryOp::Sqrt: return F<UnaryOp::Sqrt>::run(args...);
    case UnaryOp::Pow: return F<UnaryOp::Pow>::run(args...);
    case UnaryOp::AddScalar: return F<UnaryOp::AddScalar>::run(args...);
    case UnaryOp::MulScalar: return F<UnaryOp::MulScalar>::run(args...);
    case UnaryOp::DivScalar: return F<UnaryOp::DivScalar>::run(args...);
    case UnaryOp::RSubScalar: return F<UnaryOp::RSubScalar>::run(args...);
    case UnaryOp::RDivScalar: return F<UnaryOp::RDivScalar>::run(args...);
  }
  throw Error(str("unary: unknown op ", static_cast<int>(op)));
}

template <UnaryOp OP>
struct UnaryForwardRunner {
  static void run(const float* x, float* y, int64_t n, float s0, float s1) {
    launch_elementwise("unary_forward", n, UnaryForwardOp<OP>{x, y, s0, s1});
  }
};

template <UnaryOp OP>
struct UnaryBackwardRunner {
  static void run(const float* u, const float* gy, float* gx, int64_t n, float s0, float s1) {
    launch_elementwise("unary_backward", n, UnaryBackwardOp<OP>{u, gy, gx, s0, s1});
  }
};

void unary_forward_cuda(const float* x, float* y, int64_t n, UnaryParams p) {
  dispatch_unary<UnaryForwardRunner>(p.op, x, y, n, static_cast<float>(p.s0),
                                     static_cast<float>(p.s1));
}

void unary_backward_cuda(const float* x, const float* y, const float* gy, float* gx, int64_t n,
                         UnaryParams p) {
  const int reads = reads_for(p.op);
  const float* u = reads == 1 ? x : (reads == 2 ? y : nullptr);
  NWQ_CHECK(reads == 0 || u, "unary_backward: op ", static_cast<int>(p.op), " needs its saved ",
            reads == 1 ? "input" : "output");
  dispatch_unary<UnaryBackwardRunner>(p.op, u, gy, gx, n, static_cast<float>(p.s0),
                                      static_cast<float>(p.s1));
}

// ---------------------------------------------------------------- where, greater

struct WhereForwardOp {
  const uint8_t* mask;
  const float* a;
  const float* b;
  float* y;
  __device__ void operator()(int64_t i) const { y[i] = mask[i] ? a[i] : b[i]; }
};

struct WhereBackwardOp {
  const uint8_t* mask;
  const float* gy;
  float* ga;
  float* gb;
  __device__ void operator()(int64_t i) const {
    const bool m = mask[i] != 0;
    const float g = gy[i];
    if (ga) ga[i] = m ? g : 0.0f;
    if (gb) gb[i] = m ? 0.0f : g;
  }
};

struct GreaterOp {
  const float* x;
  uint8_t* y;
  float v;
  __device__ void operator()(int64_t i) const { y[i] = x[i] > v ? 1 : 0; }
};

void where_forward_cuda(const uint8_t* mask, const float* a, const float* b, float* y, int64_t n) {
  launch_elementwise("where_forward", n, WhereForwardOp{mask, a, b, y});
}

void where_backward_cuda(const uint8_t* mask, const float* gy, float* ga, float* gb, int64_t n) {
  if (!ga && !gb) return;
  launch_elementwise("where_backward", n, WhereBackwardOp{mask, gy, ga, gb});
}

void greater_cuda(const float* x, uint8_t* y, int64_t n, float v) {
  launch_elementwise("greater", n, GreaterOp{x, y, v});
}

}  // namespace nwq
