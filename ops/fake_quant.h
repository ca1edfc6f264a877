// Uniform asymmetric fake quantization (quantize then dequantize) with per-tensor or per-channel
// scale and zero point: straight-through gradient to x inside the grid, LSQ gradient to the scale.
// The activation and weight quantizers of quant/ are built on it (docs/DESIGN.md section 7).
#pragma once
#include <cstdint>

#include "ops/dispatch.h"

namespace nwq {

// y = (q - z) * s with q = clamp(round(x / s) + z, qmin, qmax), rounding half to even (as
// torch.round). scale s > 0 and zero_point z (integer-valued; undefined means 0) have one
// element (axis = -1: per tensor) or x.size(axis) elements (per channel along `axis`; any shape
// with that many elements, e.g. [C] or [C, 1, 1, 1]).
// Gradients: to x, straight-through: gy where qmin <= round(x / s) + z <= qmax, 0 outside.
// To the scale (LSQ, Esser et al. 2020): grad_scale * sum over the channel of gy * dy/ds with
// dy/ds = round(x / s) - x / s inside, qmin - z below, qmax - z above. The zero point is fixed
// (never gets a gradient). A non-positive scale throws on the CPU; on CUDA, where checking would
// cost a device sync, the kernels write NaN instead so that the loss shows it.
Tensor fake_quant(const Tensor& x, const Tensor& scale, const Tensor& zero_point, int64_t qmin,
                  int64_t qmax, int axis = -1, double grad_scale = 1.0);

// ================================ kernels ================================

// x, y, gy, gx viewed as [outer, channels, inner] (contiguous); element (o, c, i) uses scale[c]
// and zero_point[c] (zero_point may be null: 0). Per tensor: outer = 1, channels = 1.
struct FakeQuantParams {
  int64_t outer, channels, inner;
  double qmin, qmax;  // the integer grid, as floats
  double grad_scale;  // LSQ g: multiplies the scale gradient
};
template <class T>
using FakeQuantFwdFn = void (*)(const T* x, const T* scale, const T* zero_point, T* y,
                                FakeQuantParams p);
// Assigns gx (outer * channels * inner elements) and gscale (channels elements; the sum over
// each channel in an order fixed by the shape, in double, times grad_scale). Either may be null
// (not needed).
template <class T>
using FakeQuantBwdFn = void (*)(const T* x, const T* scale, const T* zero_point, const T* gy, T* gx,
                                T* gscale, FakeQuantParams p);
extern KernelSlot<FakeQuantFwdFn> fake_quant_forward_kernel;
extern KernelSlot<FakeQuantBwdFn> fake_quant_backward_kernel;

}  // namespace nwq
