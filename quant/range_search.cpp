// The observers' dispatch, the per-channel loop, and the shrinking search (plain double-precision
// loops on the CPU; callers copy device tensors here once).
#include "quant/range_search.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"
#include "quant/mse_observer.h"

namespace nwq {

QuantRange range_to_grid(double lo, double hi, int bits) {
  lo = std::min(lo, 0.0);
  hi = std::max(hi, 0.0);
  const double levels = std::ldexp(1.0, bits) - 1;
  QuantRange r;
  r.scale = std::max((hi - lo) / levels, 1e-8);
  r.zero_point = std::min(std::max(std::nearbyint(-lo / r.scale), 0.0), levels);
  if (r.zero_point == 0) r.zero_point = 0;  // +0, not the -0 that rint(-0.0) gives
  return r;
}

// sum over the samples of |x - q(x)|^p on the grid r.
static double lp_error(const std::vector<float>& xs, const QuantRange& r, int bits, double p) {
  const double levels = std::ldexp(1.0, bits) - 1;
  double err = 0;
  for (float v : xs) {
    double q = std::min(std::max(std::nearbyint(v / r.scale) + r.zero_point, 0.0), levels);
    err += std::pow(std::fabs((q - r.zero_point) * r.scale - v), p);
  }
  return err;
}

QuantRange shrink_search(const float* x, int64_t n, int bits, double p, int64_t max_samples) {
  NWQ_CHECK(n > 0, "lp_search: no values");
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (int64_t i = 0; i < n; ++i) {
    NWQ_CHECK(std::isfinite(x[i]), "lp_search: a non-finite value (", x[i], ") in the data");
    lo = std::min(lo, double(x[i]));
    hi = std::max(hi, double(x[i]));
  }
  const int64_t step = std::max<int64_t>(1, (n + max_samples - 1) / max_samples);
  std::vector<float> xs;
  for (int64_t i = 0; i < n; i += step) xs.push_back(x[i]);
  QuantRange best = range_to_grid(lo, hi, bits);
  double best_err = lp_error(xs, best, bits, p);
  for (int i = 1; i < 80; ++i) {
    const double a = 1.0 - 0.01 * i;
    QuantRange r = range_to_grid(a * lo, a * hi, bits);
    double err = lp_error(xs, r, bits, p);
    if (err < best_err) best = r, best_err = err;
  }
  return best;
}

std::string to_string(Observer o) { return o == Observer::Mse ? "mse" : "shrink"; }

Observer parse_observer(const std::string& text, const std::string& flag) {
  if (text == "mse") return Observer::Mse;
  if (text == "shrink") return Observer::Shrink;
  throw Error(str(flag, ": unknown value '", text, "' (choose from mse, shrink)"));
}

QuantRange observe_tensor(const float* x, int64_t n, int bits, double p, Observer kind) {
  return kind == Observer::Mse ? mse_observe_tensor(x, n, bits, p) : shrink_search(x, n, bits, p);
}

QuantRange observe_tensor(const Tensor& x, int bits, double p, Observer kind) {
  if (kind == Observer::Mse) return mse_observe_tensor(x.to(DType::F32), bits, p);
  Tensor host = x.detach().contiguous().to(Device::cpu()).to(DType::F32);
  return shrink_search(host.data<float>(), host.numel(), bits, p);
}

void observe_per_channel(const Tensor& weight, int bits, double p, Observer kind, Tensor& scale,
                         Tensor& zero_point) {
  Tensor w = weight.contiguous().to(Device::cpu());
  const int64_t channels = w.size(0), inner = w.numel() / channels;
  const float* data = w.data<float>();
  float lo = data[0], hi = data[0];
  for (int64_t j = 0; j < w.numel(); ++j) lo = std::min(lo, data[j]), hi = std::max(hi, data[j]);
  const DataSide side = data_side(lo, hi);  // QDrop decides 1-D or 2-D once per tensor
  std::vector<float> s(channels), z(channels);
  // Channels are independent: each thread writes its own entries, so the result does not depend
  // on the thread count.
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t c = 0; c < channels; ++c) {
    const float* x = data + c * inner;
    QuantRange r = kind == Observer::Mse ? mse_observe_channel(x, inner, bits, p, side)
                                         : shrink_search(x, inner, bits, p);
    s[c] = static_cast<float>(r.scale);
    z[c] = static_cast<float>(r.zero_point);
  }
  scale = Tensor::from_vector(s, {channels});
  zero_point = Tensor::from_vector(z, {channels});
}

}  // namespace nwq
