// qdrop and amixup: CPU kernels and autograd wiring. QDrop's mask is a pure function of a key
// drawn from the caller's Rng and the element index, so nothing is stored between forward and
// backward and every device draws the same mask.
#include "ops/mix.h"

#include <cmath>
#include <type_traits>

#include "autograd/node.h"
#include "core/rng.h"

namespace nwq {

static constexpr int64_t kParallelMin = 1 << 16;  // below this, threads cost more than they save

// ---------------------------------------------------------------- CPU kernels

template <class T>
static void qdrop_forward_cpu(const T* x_q, const T* x_fp, T* y, QDropParams p) {
#pragma omp parallel for if (p.n > kParallelMin)
  for (int64_t i = 0; i < p.n; ++i) y[i] = qdrop_takes_fp(p, i) ? x_fp[i] : x_q[i];
}

template <class T>
static void qdrop_backward_cpu(const T* gy, T* g_q, T* g_fp, QDropParams p) {
#pragma omp parallel for if (p.n > kParallelMin)
  for (int64_t i = 0; i < p.n; ++i) {
    const bool fp = qdrop_takes_fp(p, i);
    if (g_q) g_q[i] = fp ? T(0) : gy[i];
    if (g_fp) g_fp[i] = fp ? gy[i] : T(0);
  }
}

template <class T>
static void mix_forward_cpu(const T* a, const T* b, T* y, MixParams p) {
  const T wa = T(p.wa), wb = T(p.wb);
#pragma omp parallel for simd if (parallel : p.n > kParallelMin)
  for (int64_t i = 0; i < p.n; ++i) y[i] = wa * a[i] + wb * b[i];
}

template <class T>
static void mix_backward_cpu(const T* gy, T* ga, T* gb, MixParams p) {
  const T wa = T(p.wa), wb = T(p.wb);
#pragma omp parallel for if (p.n > kParallelMin)
  for (int64_t i = 0; i < p.n; ++i) {
    if (ga) ga[i] = wa * gy[i];
    if (gb) gb[i] = wb * gy[i];
  }
}

KernelSlot<QDropFwdFn> qdrop_forward_kernel{"qdrop_forward", qdrop_forward_cpu<float>,
                                            qdrop_forward_cpu<double>};
KernelSlot<QDropBwdFn> qdrop_backward_kernel{"qdrop_backward", qdrop_backward_cpu<float>,
                                             qdrop_backward_cpu<double>};
KernelSlot<MixFwdFn> mix_forward_kernel{"mix_forward", mix_forward_cpu<float>,
                                        mix_forward_cpu<double>};
KernelSlot<MixBwdFn> mix_backward_kernel{"mix_backward", mix_backward_cpu<float>,
                                         mix_backward_cpu<double>};

// ---------------------------------------------------------------- ops

static void check_pair(const char* op, const char* a_name, const Tensor& a, const char* b_name,
                       const Tensor& b) {
  NWQ_CHECK(a.defined() && b.defined(), op, ": ", a_name, " and ", b_name, " must be defined");
  NWQ_CHECK(a.sizes() == b.sizes(), op, ": ", a_name, " ", shape_str(a.sizes()), " and ", b_name,
            " ", shape_str(b.sizes()), " must have the same shape");
  check_same(op, {a, b});
}

// Gradient pair of a two-input elementwise op whose backward kernel takes (gy, g0, g1); the
// gradients have gy's shape, dtype and device.
template <class Launch>
static std::vector<Tensor> pair_gradients(const char* op, const Tensor& gy_in,
                                          const std::vector<bool>& needs, Launch launch) {
  Tensor gy = gy_in.contiguous(), g0, g1;
  if (needs[0]) g0 = Tensor::empty(gy.sizes(), gy.dtype(), gy.device());
  if (needs[1]) g1 = Tensor::empty(gy.sizes(), gy.dtype(), gy.device());
  visit_float(gy.dtype(), op, [&](auto zero) {
    using T = decltype(zero);
    launch(gy.data<T>(), g0.defined() ? g0.data<T>() : nullptr,
           g1.defined() ? g1.data<T>() : nullptr);
  });
  return {g0, g1};
}

Tensor qdrop(const Tensor& x_q_in, const Tensor& x_fp_in, double p, Rng& rng) {
  check_pair("qdrop", "x_q", x_q_in, "x_fp", x_fp_in);
  NWQ_CHECK(p >= 0.0 && p <= 1.0, "qdrop: p must be in [0, 1], got ", p);
  if (p == 0.0) return x_q_in;
  const QDropParams params{x_q_in.numel(), rng.next_u64(),
                           static_cast<uint64_t>(std::llround(std::ldexp(p, 32)))};
  Tensor x_q = x_q_in.contiguous(), x_fp = x_fp_in.contiguous();
  Tensor y = Tensor::empty(x_q.sizes(), x_q.dtype(), x_q.device());
  visit_float(x_q.dtype(), "qdrop", [&](auto zero) {
    using T = decltype(zero);
    qdrop_forward_kernel.get<T>(x_q.device())(x_q.data<T>(), x_fp.data<T>(), y.data<T>(), params);
  });
  if (!should_record({x_q_in, x_fp_in})) return y;
  record("qdrop", {x_q_in, x_fp_in}, y, [params](const Tensor& gy, const std::vector<bool>& needs) {
    return pair_gradients("qdrop", gy, needs, [&](auto* g, auto* g_q, auto* g_fp) {
      using T = std::remove_pointer_t<decltype(g_q)>;
      qdrop_backward_kernel.get<T>(gy.device())(g, g_q, g_fp, params);
    });
  });
  return y;
}

Tensor amixup(const Tensor& fp_in, const Tensor& q_in, double fp_share) {
  check_pair("amixup", "fp", fp_in, "q", q_in);
  NWQ_CHECK(fp_share >= 0.0 && fp_share <= 1.0, "amixup: fp_share must be in [0, 1], got ",
            fp_share);
  if (fp_share == 0.0) return q_in;
  const MixParams params{fp_in.numel(), fp_share, 1.0 - fp_share};
  Tensor fp = fp_in.contiguous(), q = q_in.contiguous();
  Tensor y = Tensor::empty(q.sizes(), q.dtype(), q.device());
  visit_float(q.dtype(), "amixup", [&](auto zero) {
    using T = decltype(zero);
    mix_forward_kernel.get<T>(q.device())(fp.data<T>(), q.data<T>(), y.data<T>(), params);
  });
  if (!should_record({fp_in, q_in})) return y;
  record("amixup", {fp_in, q_in}, y, [params](const Tensor& gy, const std::vector<bool>& needs) {
    return pair_gradients("amixup", gy, needs, [&](auto* g, auto* g_fp, auto* g_q) {
      using T = std::remove_pointer_t<decltype(g_fp)>;
      mix_backward_kernel.get<T>(gy.device())(g, g_fp, g_q, params);
    });
  });
  return y;
}

}  // namespace nwq
