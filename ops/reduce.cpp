// sum, mean and sum_to. Any set of dims is reduced as a few [outer, reduce, inner] passes (one
// per run of neighbouring reduced dims, last run first), each summed in double in a fixed order.
// Backward stretches the gradient back with the expand kernel of ops/elementwise.h.
#include "ops/reduce.h"

#include <algorithm>

#include "autograd/node.h"
#include "ops/elementwise.h"
#include "ops/shape.h"

namespace nwq {

static constexpr int64_t kParallelMin = 1 << 16;  // below this, threads cost more than they save
static constexpr int64_t kChunk = 1 << 13;  // elements per partial sum, fixed: thread-independent
static constexpr int64_t kColumns = 256;    // columns per task when inner > 1

// ---------------------------------------------------------------- CPU kernels

// Sum of n contiguous values with 8 interleaved double accumulators combined in a fixed tree.
template <class T>
static double chunk_sum(const T* x, int64_t n) {
  double acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += static_cast<double>(x[i + k]);
  }
  for (int k = 0; i < n; ++i, ++k) acc[k] += static_cast<double>(x[i]);
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// inner == 1: y[o] = scale * sum of row o. Long rows are split into fixed chunks summed in
// parallel, then the chunk sums are added in order.
template <class T>
static void sum_rows(const T* x, T* y, int64_t outer, int64_t n, double scale) {
  const int64_t chunks = std::max<int64_t>(1, (n + kChunk - 1) / kChunk);
  std::vector<double> partial(static_cast<size_t>(outer * chunks));
#pragma omp parallel for if (outer * n > kParallelMin)
  for (int64_t t = 0; t < outer * chunks; ++t) {
    const int64_t o = t / chunks, begin = (t % chunks) * kChunk;
    partial[t] = chunk_sum(x + o * n + begin, std::min(kChunk, n - begin));
  }
  for (int64_t o = 0; o < outer; ++o) {
    double s = 0;
    for (int64_t c = 0; c < chunks; ++c) s += partial[o * chunks + c];
    y[o] = static_cast<T>(scale * s);
  }
}

// inner > 1: each task owns up to kColumns outputs of one o and walks r in order.
template <class T>
static void sum_columns(const T* x, T* y, int64_t outer, int64_t n, int64_t inner,
                        double scale) {
  const int64_t blocks = (inner + kColumns - 1) / kColumns;
#pragma omp parallel for if (outer * n * inner > kParallelMin)
  for (int64_t t = 0; t < outer * blocks; ++t) {
    const int64_t o = t / blocks, i0 = (t % blocks) * kColumns;
    const int64_t width = std::min(kColumns, inner - i0);
    double acc[kColumns] = {};
    for (int64_t r = 0; r < n; ++r) {
      const T* row = x + (o * n + r) * inner + i0;
#pragma omp simd
      for (int64_t j = 0; j < width; ++j) acc[j] += static_cast<double>(row[j]);
    }
    for (int64_t j = 0; j < width; ++j) y[o * inner + i0 + j] = static_cast<T>(scale * acc[j]);
  }
}

template <class T>
static void sum_cpu(const T* x, T* y, SumParams p) {
  if (p.inner == 1) sum_rows(x, y, p.outer, p.reduce, p.scale);
  else sum_columns(x, y, p.outer, p.reduce, p.inner, p.scale);
}

KernelSlot<SumFn> sum_kernel{"sum", sum_cpu<float>, sum_cpu<double>};

// ---------------------------------------------------------------- helpers

// One flag per dim of x: reduced or not. Negative dims count from the end; repeats throw.
static std::vector<bool> reduced_dims(const char* op, const Tensor& x,
                                      const std::vector<int64_t>& dims) {
  const int64_t n = x.dim();
  std::vector<bool> flags(static_cast<size_t>(n), false);
  for (int64_t d : dims) {
    const int64_t k = d < 0 ? d + n : d;
    NWQ_CHECK(k >= 0 && k < n, op, ": dim ", d, " out of range for ", x.describe());
    NWQ_CHECK(!flags[k], op, ": dim ", d, " repeated for ", x.describe());
    flags[k] = true;
  }
  return flags;
}

static void run_sum(const char* op, const Tensor& x, Tensor& y, SumParams p) {
  visit_float(x.dtype(), op, [&](auto zero) {
    using T = decltype(zero);
    sum_kernel.get<T>(x.device())(x.data<T>(), y.data<T>(), p);
  });
}

// scale * (sum of x over the flagged dims), in the keepdim shape. Not recorded.
static Tensor reduce_sum(const char* op, const Tensor& x_in, const std::vector<bool>& flags,
                         double scale) {
  Tensor x = x_in.contiguous();
  Shape kept = x.sizes();
  std::vector<int64_t> sizes;  // runs of neighbouring dims that are all reduced or all kept
  std::vector<bool> reduced;
  for (size_t d = 0; d < kept.size(); ++d) {
    if (flags[d]) kept[d] = 1;
    if (x.sizes()[d] == 1) continue;
    if (!sizes.empty() && reduced.back() == flags[d]) sizes.back() *= x.sizes()[d];
    else sizes.push_back(x.sizes()[d]), reduced.push_back(flags[d]);
  }
  Tensor cur = x;
  int64_t passes = std::count(reduced.begin(), reduced.end(), true);
  if (passes == 0) {  // nothing to sum: a scaled copy
    Tensor y = Tensor::empty(kept, x.dtype(), x.device());
    run_sum(op, x, y, SumParams{1, 1, x.numel(), scale});
    return y;
  }
  for (; passes > 0; --passes) {
    size_t g = reduced.size();
    while (!reduced[--g]) {}  // the last reduced run
    int64_t outer = 1, inner = 1;
    for (size_t i = 0; i < g; ++i) outer *= sizes[i];
    for (size_t i = g + 1; i < sizes.size(); ++i) inner *= sizes[i];
    Tensor y = Tensor::empty({outer * inner}, x.dtype(), x.device());
    run_sum(op, cur, y, SumParams{outer, sizes[g], inner, passes == 1 ? scale : 1.0});
    cur = y;
    sizes.erase(sizes.begin() + g);
    reduced.erase(reduced.begin() + g);
  }
  return cur.view(kept);
}

// x (in the keepdim shape `kept`) stretched to `shape` and scaled. Not recorded.
static Tensor expand_scaled(const Tensor& x_in, const Shape& shape, double scale) {
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(shape, x.dtype(), x.device());
  if (y.numel() == 0) return y;
  const ExpandParams params{broadcast_layout("sum backward", shape, x.sizes(), x.sizes()), scale};
  visit_float(x.dtype(), "sum backward", [&](auto zero) {
    using T = decltype(zero);
    expand_kernel.get<T>(x.device())(x.data<T>(), y.data<T>(), params);
  });
  return y;
}

static Tensor sum_or_mean(const char* name, const Tensor& x, const std::vector<bool>& flags,
                          bool keepdim, bool is_mean) {
  int64_t count = 1;
  Shape dropped;
  for (size_t d = 0; d < flags.size(); ++d) {
    if (flags[d]) count *= x.sizes()[d];
    else dropped.push_back(x.sizes()[d]);
  }
  const double scale = is_mean ? 1.0 / static_cast<double>(count) : 1.0;
  Tensor y = reduce_sum(name, x, flags, scale);
  const Shape kept = y.sizes();
  if (!keepdim) y = y.view(dropped);
  if (should_record({x})) {
    record(name, {x}, y,
           [xsh = x.sizes(), kept, scale](const Tensor& gy, const std::vector<bool>&) {
             return std::vector<Tensor>{expand_scaled(gy.contiguous().view(kept), xsh, scale)};
           });
  }
  return y;
}

// ---------------------------------------------------------------- public ops

Tensor sum(const Tensor& x) {
  return sum_or_mean("sum", x, std::vector<bool>(x.sizes().size(), true), false, false);
}

Tensor mean(const Tensor& x) {
  return sum_or_mean("mean", x, std::vector<bool>(x.sizes().size(), true), false, true);
}

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return sum_or_mean("sum", x, reduced_dims("sum", x, dims), keepdim, false);
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return sum_or_mean("mean", x, reduced_dims("mean", x, dims), keepdim, true);
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  const Shape& g = grad.sizes();
  NWQ_CHECK(shape.size() <= g.size() && broadcast_shape("sum_to", shape, g) == g, "sum_to: ",
            shape_str(g), " cannot be reduced to ", shape_str(shape));
  if (g == shape) return grad;
  const size_t lead = g.size() - shape.size();
  std::vector<int64_t> dims;
  for (size_t d = 0; d < g.size(); ++d) {
    if (d < lead || (shape[d - lead] == 1 && g[d] != 1)) dims.push_back(static_cast<int64_t>(d));
  }
  return reshape(sum(grad, dims, true), shape);
}

}  // namespace nwq
