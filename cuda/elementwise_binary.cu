// CUDA twins of ops/elementwise_binary.cpp: add/sub/mul/div with broadcasting, and the expand
// kernel behind broadcast_to and the sum/mean backward. One thread per output element; the
// broadcast layout (at most kMaxBroadcastDims merged dims) maps it to its input offsets.
#include "cuda/fast_divmod.cuh"
#include "ops/elementwise.h"

namespace nwq {

template <BinaryOp OP>
struct BinaryFn {
  __device__ __forceinline__ float operator()(float u, float v) const {
    if constexpr (OP == BinaryOp::Add) return u + v;
    else if constexpr (OP == BinaryOp::Sub) return u - v;
    else if constexpr (OP == BinaryOp::Mul) return u * v;
    else return u / v;
  }
};

// expand: y = scale * x (the second operand is ignored and never loaded).
struct ScaleFirst {
  float scale;
  __device__ __forceinline__ float operator()(float u, float) const { return scale * u; }
};

// One merged dim: y[i] = op(a[i * sa], b[i * sb]) with sa, sb in {0, 1}. The hot path: same
// shapes, or a tensor with a scalar.
template <class Op>
struct BinaryFlat {
  const float* a;
  const float* b;
  float* y;
  int64_t sa, sb;
  Op op;
  __device__ void operator()(int64_t i) const { y[i] = op(a[i * sa], b[i * sb]); }
};

// Output index -> offsets of a and b, innermost dim first.
template <class Div>
struct BroadcastOffsets {
  using Index = typename IndexOf<Div>::type;
  int ndim;
  Div sizes[kMaxBroadcastDims];
  Index a_strides[kMaxBroadcastDims], b_strides[kMaxBroadcastDims];

  BroadcastOffsets(const BroadcastLayout& L) : ndim(L.ndim) {
    for (int d = 0; d < kMaxBroadcastDims; ++d) {
      sizes[d] = Div(d < L.ndim ? L.sizes[d] : 1);
      a_strides[d] = static_cast<Index>(d < L.ndim ? L.a_strides[d] : 0);
      b_strides[d] = static_cast<Index>(d < L.ndim ? L.b_strides[d] : 0);
    }
  }

  __device__ __forceinline__ void operator()(Index i, Index& oa, Index& ob) const {
    oa = 0;
    ob = 0;
#pragma unroll
    for (int d = kMaxBroadcastDims - 1; d >= 1; --d) {
      if (d < ndim) {
        Index q, r;
        sizes[d].divmod(i, q, r);
        oa += r * a_strides[d];
        ob += r * b_strides[d];
        i = q;
      }
    }
    oa += i * a_strides[0];  // the outermost coordinate needs no division
    ob += i * b_strides[0];
  }
};

template <class Op, class Div>
struct BinaryStrided {
  using Index = typename IndexOf<Div>::type;
  const float* a;
  const float* b;
  float* y;
  BroadcastOffsets<Div> offsets;
  Op op;
  __device__ void operator()(int64_t i) const {
    Index oa, ob;
    offsets(static_cast<Index>(i), oa, ob);
    y[i] = op(a[oa], b[ob]);
  }
};

// y (prod(L.sizes) elements) = op(a, b) read through the layout.
template <class Op>
static void broadcast_apply(const char* name, const float* a, const float* b, float* y,
                            const BroadcastLayout& L, Op op) {
  int64_t n = 1;
  for (int d = 0; d < L.ndim; ++d) n *= L.sizes[d];
  if (n <= 0) return;
  if (L.ndim == 1) {
    launch_elementwise(name, n, BinaryFlat<Op>{a, b, y, L.a_strides[0], L.b_strides[0], op});
  } else if (n < kIndex32Limit) {  // inputs broadcast to y, so their offsets are smaller still
    launch_elementwise(name, n, BinaryStrided<Op, Div32>{a, b, y, BroadcastOffsets<Div32>(L), op});
  } else {
    launch_elementwise(name, n, BinaryStrided<Op, Div64>{a, b, y, BroadcastOffsets<Div64>(L), op});
  }
}

void binary_forward_cuda(const float* a, const float* b, float* y, BinaryParams p) {
  switch (p.op) {
    case BinaryOp::Add: return broadcast_apply("add", a, b, y, p.layout, BinaryFn<BinaryOp::Add>{});
    case BinaryOp::Sub: return broadcast_apply("sub", a, b, y, p.layout, BinaryFn<BinaryOp::Sub>{});
    case BinaryOp::Mul: return broadcast_apply("mul", a, b, y, p.layout, BinaryFn<BinaryOp::Mul>{});
    case BinaryOp::Div: return broadcast_apply("div", a, b, y, p.layout, BinaryFn<BinaryOp::Div>{});
  }
  throw Error(str("binary_forward: unknown op ", static_cast<int>(p.op)));
}

void expand_cuda(const float* x, float* y, ExpandParams p) {
  broadcast_apply("expand", x, x, y, p.layout, ScaleFirst{static_cast<float>(p.scale)});
}

}  // namespace nwq
