// Binary arithmetic with broadcasting (add, sub, mul, div) and broadcast_to: shape rules, the
// broadcast layout handed to kernels, CPU kernels and autograd. Gradients are reduced back to
// each input's shape with sum_to.
#include <algorithm>

#include "autograd/node.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"

namespace nwq {

static constexpr int64_t kParallelMin = 1 << 16;  // below this, threads cost more than they save
static constexpr int64_t kBlock = 1 << 14;        // elements per task when one row is split

// ---------------------------------------------------------------- CPU kernels

// One output row of n elements; sa, sb are the inputs' strides along it (1, or 0 = broadcast).
template <class T, class Op>
static void binary_row(const T* a, const T* b, T* y, int64_t n, int64_t sa, int64_t sb, Op op) {
  if (sa == 1 && sb == 1) {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) y[j] = op(a[j], b[j]);
  } else if (sa == 1 && sb == 0) {
    const T bv = *b;
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) y[j] = op(a[j], bv);
  } else if (sa == 0 && sb == 1) {
    const T av = *a;
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) y[j] = op(av, b[j]);
  } else {
    for (int64_t j = 0; j < n; ++j) y[j] = op(a[j * sa], b[j * sb]);
  }
}

template <class T, class Op>
static void binary_apply(const T* a, const T* b, T* y, const BroadcastLayout& L, Op op) {
  const int last = L.ndim - 1;
  const int64_t inner = L.sizes[last], sa = L.a_strides[last], sb = L.b_strides[last];
  int64_t rows = 1;
  for (int d = 0; d < last; ++d) rows *= L.sizes[d];
  if (rows == 1 && sa == 1 && sb == 1) {  // same shape, contiguous: the hot path
#pragma omp parallel for simd if (parallel : inner > kParallelMin)
    for (int64_t i = 0; i < inner; ++i) y[i] = op(a[i], b[i]);
    return;
  }
  if (rows == 1) {  // one long row with a broadcast scalar: split it into fixed blocks
    const int64_t blocks = (inner + kBlock - 1) / kBlock;
#pragma omp parallel for if (inner > kParallelMin)
    for (int64_t k = 0; k < blocks; ++k) {
      const int64_t s = k * kBlock;
      binary_row(a + s * sa, b + s * sb, y + s, std::min(kBlock, inner - s), sa, sb, op);
    }
    return;
  }
#pragma omp parallel for if (rows * inner > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t oa = 0, ob = 0, rem = r;
    for (int d = last - 1; d >= 0; --d) {  // row index -> input offsets, innermost dim first
      const int64_t i = rem % L.sizes[d];
      rem /= L.sizes[d];
      oa += i * L.a_strides[d];
      ob += i * L.b_strides[d];
    }
    binary_row(a + oa, b + ob, y + r * inner, inner, sa, sb, op);
  }
}

template <class T>
static void binary_forward_cpu(const T* a, const T* b, T* y, BinaryParams p) {
  switch (p.op) {
    case BinaryOp::Add: return binary_apply(a, b, y, p.layout, [](T u, T v) { return u + v; });
    case BinaryOp::Sub: return binary_apply(a, b, y, p.layout, [](T u, T v) { return u - v; });
    case BinaryOp::Mul: return binary_apply(a, b, y, p.layout, [](T u, T v) { return u * v; });
    case BinaryOp::Div: return binary_apply(a, b, y, p.layout, [](T u, T v) { return u / v; });
  }
}

// The layout's b_strides equal its a_strides here, so b reads stay in bounds; b is ignored.
template <class T>
static void expand_cpu(const T* x, T* y, ExpandParams p) {
  const T scale = static_cast<T>(p.scale);
  binary_apply(x, x, y, p.layout, [scale](T u, T) { return scale * u; });
}

KernelSlot<BinaryFwdFn> binary_forward_kernel{"binary_forward", binary_forward_cpu<float>,
                                              binary_forward_cpu<double>};
KernelSlot<ExpandFn> expand_kernel{"expand", expand_cpu<float>, expand_cpu<double>};

// ---------------------------------------------------------------- shape rules

Shape broadcast_shape(const char* op, const Shape& a, const Shape& b) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {  // i counts from the right
    const int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
    const int64_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
    NWQ_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ",
              shape_str(b), " cannot be broadcast together");
    out[n - 1 - i] = da == 1 ? db : da;
  }
  return out;
}

// Contiguous strides of `in` aligned on the right of `out`, 0 where `in` is broadcast.
static Shape broadcast_strides(const Shape& out, const Shape& in) {
  Shape strides(out.size(), 0);
  int64_t running = 1;
  for (size_t j = in.size(), i = out.size(); j-- > 0;) {
    --i;
    strides[i] = in[j] == 1 ? 0 : running;
    running *= in[j];
  }
  return strides;
}

// The kernel layout for out = a (op) b: size-1 dims dropped, neighbours merged where both inputs
// step through them as through one dim (e.g. [N,C,H,W] * [1,C,1,1] becomes [N, C, H*W]).
BroadcastLayout broadcast_layout(const char* op, const Shape& out, const Shape& a,
                                 const Shape& b) {
  const Shape sa = broadcast_strides(out, a), sb = broadcast_strides(out, b);
  BroadcastLayout L{};
  int k = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 1) continue;
    if (k > 0 && L.a_strides[k - 1] == sa[i] * out[i] && L.b_strides[k - 1] == sb[i] * out[i]) {
      L.sizes[k - 1] *= out[i];
      L.a_strides[k - 1] = sa[i];
      L.b_strides[k - 1] = sb[i];
      continue;
    }
    NWQ_CHECK(k < kMaxBroadcastDims, op, ": shapes ", shape_str(a), " and ", shape_str(b),
              " need more than ", kMaxBroadcastDims, " dims");
    L.sizes[k] = out[i];
    L.a_strides[k] = sa[i];
    L.b_strides[k] = sb[i];
    ++k;
  }
  if (k == 0) L.sizes[k++] = 1;  // a single element
  L.ndim = k;
  return L;
}

// ---------------------------------------------------------------- differentiable ops

// y = a (op) b with broadcasting, not recorded.
static Tensor binary_forward(const char* name, BinaryOp op, const Tensor& a_in,
                             const Tensor& b_in) {
  check_same(name, {a_in, b_in});
  const Shape out = broadcast_shape(name, a_in.sizes(), b_in.sizes());
  Tensor a = a_in.contiguous(), b = b_in.contiguous();
  Tensor y = Tensor::empty(out, a.dtype(), a.device());
  if (y.numel() == 0) return y;
  const BinaryParams params{op, broadcast_layout(name, out, a.sizes(), b.sizes())};
  visit_float(a.dtype(), name, [&](auto zero) {
    using T = decltype(zero);
    binary_forward_kernel.get<T>(a.device())(a.data<T>(), b.data<T>(), y.data<T>(), params);
  });
  return y;
}

// add and sub: the gradients are gy and ±gy, reduced to each input's shape.
static Tensor add_or_sub(const char* name, BinaryOp op, const Tensor& a, const Tensor& b) {
  Tensor y = binary_forward(name, op, a, b);
  if (should_record({a, b})) {
    const bool minus = op == BinaryOp::Sub;
    record(name, {a, b}, y,
           [ash = a.sizes(), bsh = b.sizes(), minus](const Tensor& gy,
                                                     const std::vector<bool>& needs) {
             Tensor ga, gb;
             if (needs[0]) ga = sum_to(gy, ash);
             if (needs[1]) gb = minus ? neg(sum_to(gy, bsh)) : sum_to(gy, bsh);
             return std::vector<Tensor>{ga, gb};
           });
  }
  return y;
}

Tensor add(const Tensor& a, const Tensor& b) { return add_or_sub("add", BinaryOp::Add, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return add_or_sub("sub", BinaryOp::Sub, a, b); }

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor y = binary_forward("mul", BinaryOp::Mul, a, b);
  if (should_record({a, b})) {
    // Each input's gradient reads the other input: save only those that will be read.
    Tensor saved_a = b.requires_grad() ? a.detach() : Tensor();
    Tensor saved_b = a.requires_grad() ? b.detach() : Tensor();
    record("mul", {a, b}, y,
           [saved_a, saved_b, ash = a.sizes(), bsh = b.sizes()](const Tensor& gy,
                                                                const std::vector<bool>& needs) {
             Tensor ga, gb;
             if (needs[0]) ga = sum_to(mul(gy, saved_b), ash);
             if (needs[1]) gb = sum_to(mul(gy, saved_a), bsh);
             return std::vector<Tensor>{ga, gb};
           });
  }
  return y;
}

// y = a / b: ga = gy / b, gb = -gy * a / b^2.
Tensor div(const Tensor& a, const Tensor& b) {
  Tensor y = binary_forward("div", BinaryOp::Div, a, b);
  if (should_record({a, b})) {
    Tensor saved_a = b.requires_grad() ? a.detach() : Tensor();
    record("div", {a, b}, y,
           [saved_a, saved_b = b.detach(), ash = a.sizes()](const Tensor& gy,
                                                            const std::vector<bool>& needs) {
             Tensor ga, gb;
             if (needs[0]) ga = sum_to(div(gy, saved_b), ash);
             if (needs[1]) {
               gb = neg(sum_to(div(mul(gy, saved_a), square(saved_b)), saved_b.sizes()));
             }
             return std::vector<Tensor>{ga, gb};
           });
  }
  return y;
}

Tensor broadcast_to(const Tensor& x_in, const Shape& shape) {
  NWQ_CHECK(broadcast_shape("broadcast_to", x_in.sizes(), shape) == shape,
            "broadcast_to: shape ", shape_str(x_in.sizes()), " cannot be broadcast to ",
            shape_str(shape));
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(shape, x.dtype(), x.device());
  if (y.numel() > 0) {
    const ExpandParams params{broadcast_layout("broadcast_to", shape, x.sizes(), x.sizes()), 1.0};
    visit_float(x.dtype(), "broadcast_to", [&](auto zero) {
      using T = decltype(zero);
      expand_kernel.get<T>(x.device())(x.data<T>(), y.data<T>(), params);
    });
  }
  if (should_record({x_in})) {
    record("broadcast_to", {x_in}, y,
           [xsh = x.sizes()](const Tensor& gy, const std::vector<bool>&) {
             return std::vector<Tensor>{sum_to(gy, xsh)};
           });
  }
  return y;
}

}  // namespace nwq
