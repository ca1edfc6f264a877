// Initial quantization ranges ("observers", docs/DESIGN.md section 7): QDrop's MSE observer (the
// default, quant/mse_observer.h) or the earlier shrinking search, per tensor (activations) and per
// output channel (weights). docs/QUANTIZATION.md says which official file each follows.
#pragma once
#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace nwq {

struct QuantRange {
  double scale = 1.0;       // step s > 0
  double zero_point = 0.0;  // integer z in [0, 2^bits - 1]
};

// mse: QDrop's MSEObserver (1-D threshold search for one-sided data, 2-D range x zero-point
// search otherwise, all values). shrink: nwq's earlier search, [min, max] (including 0) shrunk to
// a*[min, max] for a = 1, 0.99, ..., 0.21, the error summed over at most 2^17 evenly spaced values.
enum class Observer { Mse, Shrink };
std::string to_string(Observer o);
Observer parse_observer(const std::string& text, const std::string& flag);

// The range of n values (one grid for all) by the observer.
QuantRange observe_tensor(const float* x, int64_t n, int bits, double p, Observer kind);
// The same for a F32 tensor on any device (QDrop's observer searches on the GPU there).
QuantRange observe_tensor(const Tensor& x, int bits, double p, Observer kind);

// One range per output channel (axis 0) of a weight (any device; searched on the CPU): scale and
// zero_point tensors [O] on the CPU. Channels run in parallel; the result does not depend on the
// thread count.
void observe_per_channel(const Tensor& weight, int bits, double p, Observer kind, Tensor& scale,
                         Tensor& zero_point);

// The grid for the range [lo, hi] (lo <= 0 <= hi; a zero-width range gets a tiny step).
QuantRange range_to_grid(double lo, double hi, int bits);

// The shrinking search on n values. min/max are over all n; the error is summed over at most
// max_samples of them, evenly spaced.
QuantRange shrink_search(const float* x, int64_t n, int bits, double p,
                         int64_t max_samples = 1 << 17);

}  // namespace nwq
