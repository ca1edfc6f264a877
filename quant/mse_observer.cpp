// QDrop's MSE observer: the 1-D threshold search and the 2-D range x zero-point search. The 2-D
// search sorts the values once; for a range i the in-grid errors of every zero point then come
// from one prefix sum, and only clipped values cost a power each (pruned once a candidate cannot
// win), which gives exactly the full search's choice at a fraction of its cost.
#include "quant/mse_observer.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "ops/lp_error.h"

namespace nwq {

namespace {

constexpr int kCandidates = 100;  // QDrop's `num`

struct Grid32 {
  float scale, zero_point;
};

Grid32 qparams32(float lo, float hi, int qmax) {
  const float mn = std::min(lo, 0.0f), mx = std::max(hi, 0.0f);
  float s = (mx - mn) / static_cast<float>(qmax);
  s = std::max(s, 1e-8f);
  float z = 0.0f - std::nearbyint(mn / s);
  z = std::min(std::max(z, 0.0f), static_cast<float>(qmax));
  return {s, z};
}

// A candidate range [lo, hi], its error sum (QDrop compares means; n is fixed, so sums) and its
// place in QDrop's loop order (ties keep the earlier one).
struct Candidate {
  float lo, hi;
  double err;
  int64_t order;
};

bool better(double err, int64_t order, const Candidate& best) {
  return err < best.err || (err == best.err && order < best.order);
}

void min_max(const float* x, int64_t n, float& lo, float& hi) {
  NWQ_CHECK(n > 0, "range search: no values");
  lo = hi = x[0];
  for (int64_t j = 0; j < n; ++j) {
    NWQ_CHECK(std::isfinite(x[j]), "range search: a non-finite value (", x[j], ") in the data");
    lo = std::min(lo, x[j]);
    hi = std::max(hi, x[j]);
  }
}

// QDrop's starting point: the data's range and an error of 1e10 per value (n: all values, zeros
// included); a candidate must be strictly better to replace it.
Candidate start(float lo, float hi, int64_t n) { return {lo, hi, 1e10 * double(n), -1}; }

// 1-D: thresholds xrange*i/100 on the data's side (zero point 0, or 2^bits-1 when <= 0).
// The candidates are independent: with `parallel`, one thread each; the choice is the same.
Candidate search_1d(const float* x, int64_t n, int qmax, double p, float x_min, float x_max,
                    DataSide side, bool parallel, Candidate best) {
  const float xrange = std::max(std::fabs(x_min), x_max);
  std::vector<Candidate> cand(kCandidates);
#pragma omp parallel for schedule(dynamic, 1) if (parallel)
  for (int i = 1; i <= kCandidates; ++i) {
    const float thres = xrange / static_cast<float>(kCandidates) * static_cast<float>(i);
    Candidate& c = cand[i - 1];
    c.lo = side == DataSide::NonNegative ? 0.0f : -thres;
    c.hi = side == DataSide::NonPositive ? 0.0f : thres;
    c.order = i;
    const Grid32 g = qparams32(c.lo, c.hi, qmax);
    c.err = quant_error_sum(x, n, g.scale, g.zero_point, static_cast<float>(qmax), p);
  }
  for (const Candidate& c : cand)
    if (better(c.err, c.order, best)) best = c;
  return best;
}

// The 2-D search's data: values sorted ascending, and its constants.
struct Sorted {
  std::vector<float> v;
  float xrange;
  int qmax;
  double p;
};

// Range i of the 2-D search: its width, zero-point step and scale; k and prefix (scratch of n and
// n + 1 entries) receive each value's grid index (nondecreasing) and the prefix sums of the
// in-grid errors.
struct Range {
  int i;
  float tmp_max, delta, s;
};
Range prepare_range(const Sorted& d, int i, std::vector<float>& k, std::vector<double>& prefix) {
  Range r;
  r.i = i;
  r.tmp_max = d.xrange / static_cast<float>(kCandidates) * static_cast<float>(i);
  r.delta = r.tmp_max / static_cast<float>(d.qmax);
  r.s = qparams32(0.0f, r.tmp_max, d.qmax).scale;
  const int64_t n = static_cast<int64_t>(d.v.size());
  std::vector<float>& err = k;  // k[j] * s - v[j] first, then k itself (below)
  for (int64_t j = 0; j < n; ++j) err[j] = std::nearbyint(d.v[j] / r.s) * r.s - d.v[j];
  pow_abs_many(err.data(), prefix.data() + 1, n, d.p);
  prefix[0] = 0.0;
  for (int64_t j = 0; j < n; ++j) prefix[j + 1] += prefix[j];
  for (int64_t j = 0; j < n; ++j) k[j] = std::nearbyint(d.v[j] / r.s);
  return r;
}

// Candidate (i, zp): replaces best when better. A first, fast error uses range i's grid with zero
// point 0 for every zero point (QDrop recomputes the step from the shifted range, which can differ
// in the last bit): values inside the grid cost a prefix-sum lookup, clipped ones a power each,
// farthest first, abandoned once clearly worse than the best. A candidate within kMargin of the
// best is then summed exactly with its own grid, and only that exact error decides.
constexpr double kMargin = 1e-5;  // far above the fast error's deviation (~1e-6 at most)

void try_zero_point(const Sorted& d, const Range& r, int zp, const std::vector<float>& k,
                    const std::vector<double>& prefix, Candidate& best) {
  const int64_t n = static_cast<int64_t>(d.v.size());
  const float shift = static_cast<float>(zp) * r.delta;
  const float lo = 0.0f - shift, hi = r.tmp_max - shift;
  const Grid32 g = qparams32(lo, hi, d.qmax);
  const float top = static_cast<float>(d.qmax) - g.zero_point;
  const int64_t a = std::lower_bound(k.begin(), k.end(), -g.zero_point) - k.begin();
  const int64_t b = std::upper_bound(k.begin(), k.end(), top) - k.begin();
  const double bound = best.err * (1 + kMargin);
  double err = prefix[b] - prefix[a];  // values on the grid: their rounding error
  if (err > bound) return;
  err += clip_error_sum(d.v.data(), a, (0.0f - g.zero_point) * r.s, d.p, bound - err);
  if (err > bound) return;
  err += clip_error_sum(d.v.data() + b, n - b, top * r.s, d.p, bound - err, true);
  if (err > bound) return;
  const double exact = quant_error_sum(d.v.data(), n, g.scale, g.zero_point,
                                       static_cast<float>(d.qmax), d.p);
  const int64_t order = int64_t(r.i) * (d.qmax + 1) + zp;
  if (better(exact, order, best)) best = {lo, hi, exact, order};
}

// Every zero point of range i, in QDrop's order.
void search_range(const Sorted& d, int i, std::vector<float>& k, std::vector<double>& prefix,
                  Candidate& best) {
  const Range r = prepare_range(d, i, k, prefix);
  for (int zp = 0; zp <= d.qmax; ++zp) try_zero_point(d, r, zp, k, prefix, best);
}

// A good candidate to prune against: for every tenth range, the zero point that centres the grid
// on the data. Exact either way (ties are decided by QDrop's order, not by who came first).
void warm_start(const Sorted& d, float x_min, float x_max, std::vector<float>& k,
                std::vector<double>& prefix, Candidate& best) {
  for (int i = 10; i <= kCandidates; i += 10) {
    const Range r = prepare_range(d, i, k, prefix);
    const double centre = 0.5 * d.qmax - 0.5 * (double(x_min) + double(x_max)) / r.s;
    const int zp = static_cast<int>(std::min(std::max(std::nearbyint(centre), 0.0), double(d.qmax)));
    try_zero_point(d, r, zp, k, prefix, best);
  }
}

// 2-D: ranges (x_max - x_min)*i/100 and all zero points. With `parallel` the ranges run on
// separate threads, each keeping its own best; the best overall (earliest on ties) wins, as in
// the sequential order.
Candidate search_2d(const float* x, int64_t n, int qmax, double p, float x_min, float x_max,
                    bool parallel, Candidate best) {
  Sorted d{std::vector<float>(x, x + n), x_max - x_min, qmax, p};
  std::sort(d.v.begin(), d.v.end());
  std::vector<float> k(n);
  std::vector<double> prefix(n + 1);
  warm_start(d, x_min, x_max, k, prefix, best);
  if (!parallel) {
    for (int i = 1; i <= kCandidates; ++i) search_range(d, i, k, prefix, best);
    return best;
  }
  std::vector<Candidate> per_range(kCandidates, best);
#pragma omp parallel
  {
    std::vector<float> k_t(n);
    std::vector<double> prefix_t(n + 1);
#pragma omp for schedule(dynamic, 1)
    for (int i = 1; i <= kCandidates; ++i) search_range(d, i, k_t, prefix_t, per_range[i - 1]);
  }
  for (const Candidate& c : per_range)
    if (better(c.err, c.order, best)) best = c;
  return best;
}

QuantRange to_range(const Candidate& c, int bits) { return qdrop_qparams(c.lo, c.hi, bits); }

// Above this many values a per-tensor search spreads its candidates over threads.
constexpr int64_t kParallelValues = 1 << 14;

}  // namespace

DataSide data_side(float min_value, float max_value) {
  if (min_value >= 0.0f) return DataSide::NonNegative;
  if (max_value <= 0.0f) return DataSide::NonPositive;
  return DataSide::TwoSided;
}

QuantRange qdrop_qparams(float lo, float hi, int bits) {
  const Grid32 g = qparams32(lo, hi, (1 << bits) - 1);
  return {double(g.scale), double(g.zero_point)};
}

QuantRange mse_observe_tensor(const float* x, int64_t n, int bits, double p) {
  float lo, hi;
  min_max(x, n, lo, hi);
  const int qmax = (1 << bits) - 1;
  const bool parallel = n >= kParallelValues;
  const DataSide side = data_side(lo, hi);
  // Exact zeros (half of a ReLU's outputs) lie on every candidate grid: their error is 0. The
  // search runs on the others; QDrop's starting error (1e10 per value) still counts all n.
  std::vector<float> nonzero;
  nonzero.reserve(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j)
    if (x[j] != 0.0f) nonzero.push_back(x[j]);
  const int64_t m = static_cast<int64_t>(nonzero.size());
  const Candidate first = start(lo, hi, n);
  if (m == 0) return to_range(first, bits);
  if (side != DataSide::TwoSided)
    return to_range(search_1d(nonzero.data(), m, qmax, p, lo, hi, side, parallel, first), bits);
  return to_range(search_2d(nonzero.data(), m, qmax, p, lo, hi, parallel, first), bits);
}

QuantRange mse_observe_tensor(const Tensor& x_in, int bits, double p) {
  Tensor x = x_in.detach().contiguous();
  if (!x.device().is_cuda()) return mse_observe_tensor(x.data<float>(), x.numel(), bits, p);
  Tensor host = x.to(Device::cpu());  // min and max decide the candidates (cheap next to them)
  float lo, hi;
  min_max(host.data<float>(), host.numel(), lo, hi);
  const int qmax = (1 << bits) - 1;
  const DataSide side = data_side(lo, hi);
  std::vector<Candidate> cand;
  if (side != DataSide::TwoSided) {
    const float xrange = std::max(std::fabs(lo), hi);
    for (int i = 1; i <= kCandidates; ++i) {
      const float thres = xrange / static_cast<float>(kCandidates) * static_cast<float>(i);
      cand.push_back({side == DataSide::NonNegative ? 0.0f : -thres,
                      side == DataSide::NonPositive ? 0.0f : thres, 0.0, i});
    }
  } else {
    const float xrange = hi - lo;
    for (int i = 1; i <= kCandidates; ++i) {
      const float tmp_max = xrange / static_cast<float>(kCandidates) * static_cast<float>(i);
      const float delta = tmp_max / static_cast<float>(qmax);
      for (int zp = 0; zp <= qmax; ++zp) {
        const float shift = static_cast<float>(zp) * delta;
        cand.push_back({0.0f - shift, tmp_max - shift, 0.0, int64_t(i) * (qmax + 1) + zp});
      }
    }
  }
  std::vector<float> scales, zero_points;
  for (const Candidate& c : cand) {
    const Grid32 g = qparams32(c.lo, c.hi, qmax);
    scales.push_back(g.scale);
    zero_points.push_back(g.zero_point);
  }
  const std::vector<double> err = quant_error_sums(x, scales, zero_points, qmax, p);
  Candidate best = start(lo, hi, x.numel());
  for (size_t k = 0; k < cand.size(); ++k)
    if (better(err[k], cand[k].order, best)) best = {cand[k].lo, cand[k].hi, err[k], cand[k].order};
  return to_range(best, bits);
}

QuantRange mse_observe_channel(const float* x, int64_t n, int bits, double p, DataSide side) {
  float lo, hi;
  min_max(x, n, lo, hi);
  const int qmax = (1 << bits) - 1;
  if (side != DataSide::TwoSided)
    return to_range(search_1d(x, n, qmax, p, lo, hi, side, false, start(lo, hi, n)), bits);
  lo = std::min(lo, 0.0f), hi = std::max(hi, 0.0f);
  return to_range(search_2d(x, n, qmax, p, lo, hi, false, start(lo, hi, n)), bits);
}

}  // namespace nwq
