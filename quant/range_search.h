// Initial quantization ranges: the Lp clipping search of BRECQ/QDrop (DESIGN.md 7). The range
// [min, max] of the data (always including 0) shrinks to a*[min, max] for a = 1, 0.99, ..., 0.21,
// and the asymmetric grid with the smallest sum |x - q(x)|^p wins.
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace nwq {

struct QuantRange {
  double scale = 1.0;       // step s > 0
  double zero_point = 0.0;  // integer z in [0, 2^bits - 1]
};

// The grid for the range [lo, hi] (lo <= 0 <= hi; a zero-width range gets a tiny step).
QuantRange range_to_grid(double lo, double hi, int bits);

// Searches n values (x[0], x[stride], ...). min/max are over all n; the error is summed over at
// most max_samples of them, evenly spaced (the search on a 4M-element activation would cost 80
// passes otherwise).
QuantRange lp_search(const float* x, int64_t n, int bits, double p, int64_t max_samples = 1 << 17);

// One range per output channel (axis 0) of a CPU F32 weight: scale and zero_point tensors [O].
void lp_search_per_channel(const Tensor& weight, int bits, double p, Tensor& scale,
                           Tensor& zero_point);

}  // namespace nwq
