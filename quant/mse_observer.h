// QDrop's MSE observer (wimh966/QDrop, qdrop/quantization/observer.py, class MSEObserver), written
// from its semantics: the asymmetric grid minimizing mean |x - q(x)|^p over 100 candidate ranges.
// One-sided data (all >= 0 or all <= 0) searches only the clipping threshold |max|*i/100,
// i = 1..100 ("1-D"); two-sided data searches every range (max-min)*i/100 and, for each, every zero
// point 0..2^bits-1 ("2-D"). Candidate ranges and grids are computed in float as QDrop computes
// them; the errors in double. Ties keep the first candidate in QDrop's order (i, then zero point).
#pragma once
#include <cstdint>

#include "core/tensor.h"
#include "quant/range_search.h"

namespace nwq {

// Which kind of search QDrop runs: decided once per tensor by its min and max.
enum class DataSide { NonNegative, NonPositive, TwoSided };
DataSide data_side(float min_value, float max_value);

// Per tensor (activations): all n values, one grid.
QuantRange mse_observe_tensor(const float* x, int64_t n, int bits, double p);

// Per tensor, on the tensor's device: on the GPU every candidate of QDrop's loop (1-D: 100;
// 2-D: 100 x 2^bits, each with its own grid as QDrop computes it) is summed there in one
// launch (ops/lp_error.h); the choice is made on the host in QDrop's order. On the CPU, as above.
QuantRange mse_observe_tensor(const Tensor& x, int bits, double p);

// One output channel of a weight (per-channel quantization). `side` is the whole weight tensor's
// (QDrop decides 1-D or 2-D once for the tensor); two-sided search clamps the channel's
// [min, max] to include 0, as QDrop's per-channel 2-D search does.
QuantRange mse_observe_channel(const float* x, int64_t n, int bits, double p, DataSide side);

// QDrop's calculate_qparams for the range [lo, hi] in float: scale = max((max(hi,0) -
// min(lo,0)) / (2^bits - 1), 1e-8), zero_point = clamp(-rint(min(lo,0) / scale), 0, 2^bits - 1).
QuantRange qdrop_qparams(float lo, float hi, int bits);

}  // namespace nwq
