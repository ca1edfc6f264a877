// Elementwise ops: binary arithmetic with numpy/PyTorch broadcasting, arithmetic with a double,
// unary math (exp, log, sigmoid, clamp, ...), where/greater masks, dropout, and C++ operators.
// Binary ops reduce their gradients back to each input's shape with sum_to (ops/reduce.h).
#pragma once
#include <cstdint>

#include "ops/dispatch.h"

namespace nwq {

class Rng;

// ---- binary ops with broadcasting: shapes align on the right, size-1 dims stretch ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);

// ---- a tensor and a double ----
Tensor add(const Tensor& x, double s);
Tensor sub(const Tensor& x, double s);
Tensor mul(const Tensor& x, double s);
Tensor div(const Tensor& x, double s);
Tensor rsub(double s, const Tensor& x);  // s - x
Tensor rdiv(double s, const Tensor& x);  // s / x

// The broadcast shape of a and b; throws naming `op` and both shapes when they are incompatible.
Shape broadcast_shape(const char* op, const Shape& a, const Shape& b);
// x stretched to `shape` (x's shape must broadcast to it); a fresh contiguous copy.
// Differentiable: the gradient is sum_to(grad, x's shape).
Tensor broadcast_to(const Tensor& x, const Shape& shape);

// ---- unary ops ----
Tensor neg(const Tensor& x);
Tensor square(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor clamp(const Tensor& x, double lo, double hi);  // gradient passes where lo < x < hi
Tensor abs(const Tensor& x);                          // gradient sign(x), 0 at 0
Tensor sqrt(const Tensor& x);
Tensor pow(const Tensor& x, double p);

// ---- masks ----
// mask: U8, same shape as a and b (no broadcasting); y = mask ? a : b. The gradient goes to a
// where mask is non-zero and to b elsewhere; the mask gets none.
Tensor where(const Tensor& mask, const Tensor& a, const Tensor& b);
// U8 mask, 1 where x > v; not differentiable.
Tensor greater(const Tensor& x, double v);
// Inverted dropout: zeroes each element with probability p and scales the rest by 1/(1-p).
// Identity when !training or p == 0. The mask is drawn on the host from rng, element by element
// in order, so the same rng state gives the same mask on every device.
Tensor dropout(const Tensor& x, double p, bool training, Rng& rng);

// ---- operators ----
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& x) { return neg(x); }
inline Tensor operator+(const Tensor& x, double s) { return add(x, s); }
inline Tensor operator-(const Tensor& x, double s) { return sub(x, s); }
inline Tensor operator*(const Tensor& x, double s) { return mul(x, s); }
inline Tensor operator/(const Tensor& x, double s) { return div(x, s); }
inline Tensor operator+(double s, const Tensor& x) { return add(x, s); }
inline Tensor operator-(double s, const Tensor& x) { return rsub(s, x); }
inline Tensor operator*(double s, const Tensor& x) { return mul(x, s); }
inline Tensor operator/(double s, const Tensor& x) { return rdiv(s, x); }

// ================================ kernels ================================
// All pointers are contiguous buffers of the op's dtype; every kernel assigns its outputs.

constexpr int kMaxBroadcastDims = 6;

// Output sizes and per-input element strides (0 on broadcast dims) after the op layer dropped
// size-1 dims and merged neighbouring dims: ndim is 1..kMaxBroadcastDims, and the innermost
// strides are 0 or 1. Element (i0, .., ik) of the output reads a[sum i_d * a_strides[d]].
struct BroadcastLayout {
  int32_t ndim;
  int64_t sizes[kMaxBroadcastDims];
  int64_t a_strides[kMaxBroadcastDims];
  int64_t b_strides[kMaxBroadcastDims];
};

// The kernel layout for out = a (op) b, where `out` is broadcast_shape(a, b) (or a's shape
// stretched, for expand: pass b = a). Throws naming `op` when more than kMaxBroadcastDims remain.
BroadcastLayout broadcast_layout(const char* op, const Shape& out, const Shape& a, const Shape& b);

enum class BinaryOp : int32_t { Add, Sub, Mul, Div };
struct BinaryParams {
  BinaryOp op;
  BroadcastLayout layout;
};
// y: prod(layout.sizes) elements; a, b: read through their strides. y = a (op) b.
template <class T> using BinaryFwdFn = void (*)(const T* a, const T* b, T* y, BinaryParams p);
extern KernelSlot<BinaryFwdFn> binary_forward_kernel;

// y[i] = scale * x[offset of i through layout.a_strides] (b_strides unused).
struct ExpandParams {
  BroadcastLayout layout;
  double scale;
};
template <class T> using ExpandFn = void (*)(const T* x, T* y, ExpandParams p);
extern KernelSlot<ExpandFn> expand_kernel;

// s0/s1 meaning per op: Clamp (lo, hi), Pow (exponent, -), *Scalar (the scalar, -).
enum class UnaryOp : int32_t {
  Neg, Square, Exp, Log, Sigmoid, Clamp, Abs, Sqrt, Pow,
  AddScalar,   // x + s0
  MulScalar,   // x * s0
  DivScalar,   // x / s0
  RSubScalar,  // s0 - x
  RDivScalar,  // s0 / x
};
struct UnaryParams {
  UnaryOp op;
  double s0 = 0, s1 = 0;
};
// x, y: n elements.
template <class T> using UnaryFwdFn = void (*)(const T* x, T* y, int64_t n, UnaryParams p);
// gx = dy/dx * gy, n elements, assigned. Exp, Sigmoid and Sqrt read the output y (x may be
// null); the scalar-affine ops and Neg read neither; the others read x (y may be null).
template <class T>
using UnaryBwdFn = void (*)(const T* x, const T* y, const T* gy, T* gx, int64_t n, UnaryParams p);
extern KernelSlot<UnaryFwdFn> unary_forward_kernel;
extern KernelSlot<UnaryBwdFn> unary_backward_kernel;

// mask, a, b, y: n elements; y = mask ? a : b.
template <class T>
using WhereFwdFn = void (*)(const uint8_t* mask, const T* a, const T* b, T* y, int64_t n);
// ga = mask ? gy : 0, gb = mask ? 0 : gy; either output may be null (not needed).
template <class T>
using WhereBwdFn = void (*)(const uint8_t* mask, const T* gy, T* ga, T* gb, int64_t n);
extern KernelSlot<WhereFwdFn> where_forward_kernel;
extern KernelSlot<WhereBwdFn> where_backward_kernel;

// x, y: n elements; y = x > v ? 1 : 0 (v rounded to T first, as PyTorch does).
template <class T> using GreaterFn = void (*)(const T* x, uint8_t* y, int64_t n, T v);
extern KernelSlot<GreaterFn> greater_kernel;

}  // namespace nwq
