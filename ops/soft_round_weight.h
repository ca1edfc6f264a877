// What both soft roundings (ops/adaround.cpp, ops/asoftmax.cpp) share: the dequantization
// w_q = s * (clamp(w_floor + r + z, qmin, qmax) - z), the checks and the autograd wiring of a soft
// weight. The CUDA twin of the dequantization is cuda/soft_round_weight.cuh.
#pragma once
#include <cstdint>
#include <limits>
#include <vector>

#include "autograd/node.h"
#include "ops/dispatch.h"

namespace nwq {

constexpr int64_t kSoftRoundParallelMin = 1 << 15;  // below this, threads cost more than they save

// The output channel of element j of a weight viewed as [channels, inner].
inline int64_t soft_weight_channel(int64_t j, int64_t channels, int64_t inner) {
  return channels == 1 ? 0 : j / inner;
}

// One soft weight from its floor, rounding offset r, zero point z and scale s: NaN for a scale
// that is not positive (the op layer has already thrown for those on the CPU).
template <class T>
inline T soft_dequantize(T w_floor, T r, T z, T s, T qmin, T qmax) {
  T t = w_floor + r + z;
  t = t < qmin ? qmin : (t > qmax ? qmax : t);
  return s > T(0) ? s * (t - z) : std::numeric_limits<T>::quiet_NaN();
}

// True where the grid clamp of soft_dequantize is inactive, so r receives a gradient.
template <class T>
inline bool soft_inside_grid(T w_floor, T r, T z, T qmin, T qmax) {
  const T t = w_floor + r + z;
  return t >= qmin && t <= qmax;
}

// The weight viewed as [channels, inner] for a scale of 1 or w_floor.size(0) elements.
struct SoftWeightView {
  int64_t channels, inner;
};

// Checks w_floor, scale and zero_point for op (defined, shapes, devices, qmin < qmax, and on the
// CPU a positive scale) and returns the view.
SoftWeightView soft_weight_view(const char* op, const Tensor& w_floor, const Tensor& scale,
                                const Tensor& zero_point, int64_t qmin, int64_t qmax);

template <class T>
const T* optional_data(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// The wiring shared by both soft weights: y (w_floor's shape) = fwd(w_floor, v, scale, z), and
// a node whose backward gives v its gradient through bwd (the other inputs get none).
template <template <class> class Fwd, template <class> class Bwd, class Params>
Tensor soft_weight(const char* op, const KernelSlot<Fwd>& fwd, const KernelSlot<Bwd>& bwd,
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
                                    optional_data<T>(zero_point), y.data<T>(), p);
  });
  if (!should_record({v_in})) return y;
  record(op, {v_in}, y, [=, &bwd](const Tensor& gy_in, const std::vector<bool>&) {
    Tensor gy = gy_in.contiguous(), gv = Tensor::empty(v.sizes(), v.dtype(), v.device());
    visit_float(v.dtype(), op, [&](auto zero) {
      using T = decltype(zero);
      bwd.template get<T>(v.device())(w_floor.data<T>(), v.data<T>(), scale.data<T>(),
                                      optional_data<T>(zero_point), gy.data<T>(), gv.data<T>(), p);
    });
    return std::vector<Tensor>{gv};
  });
  return y;
}

}  // namespace nwq
