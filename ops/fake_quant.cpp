// fake_quant: the CPU kernels (forward; backward with the straight-through input gradient and
// the LSQ scale gradient summed per channel in a fixed order) and the autograd wiring.
// Rounding is std::nearbyint under the default rounding mode: half to even, as torch.round.
#include "ops/fake_quant.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "autograd/node.h"

namespace nwq {

static constexpr int64_t kParallelMin = 1 << 16;  // below this, threads cost more than they save
static constexpr int64_t kChunk = 1 << 14;        // elements per task and per partial sum (fixed)

// ---------------------------------------------------------------- CPU kernels

// The grid of one channel. An invalid scale (<= 0 or NaN) makes every output NaN.
template <class T>
struct ChannelGrid {
  T s, z, qmin, qmax;
  bool valid;

  ChannelGrid(const T* scale, const T* zero_point, int64_t c, const FakeQuantParams& p)
      : s(scale[c]), z(zero_point ? zero_point[c] : T(0)), qmin(T(p.qmin)), qmax(T(p.qmax)),
        valid(scale[c] > T(0)) {}
};

// The loops below are branch-free selects over n contiguous elements of one channel, so that
// they vectorize (in/out of range is data-dependent and would mispredict as branches).
template <class T>
static void forward_run(const T* x, T* y, int64_t n, const ChannelGrid<T>& g) {
  if (!g.valid) {
    std::fill(y, y + n, std::numeric_limits<T>::quiet_NaN());
    return;
  }
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    T q = std::nearbyint(x[i] / g.s) + g.z;
    q = q < g.qmin ? g.qmin : (q > g.qmax ? g.qmax : q);
    y[i] = (q - g.z) * g.s;
  }
}

// gx = gy where qmin <= round(x / s) + z <= qmax, else 0 (gx may be null). Returns the double
// sum of gy * dy/ds (the LSQ step gradient) when `want_sum`.
template <class T>
static double backward_run(const T* x, const T* gy, T* gx, int64_t n, const ChannelGrid<T>& g,
                           bool want_sum) {
  if (!g.valid) {
    if (gx) std::fill(gx, gx + n, std::numeric_limits<T>::quiet_NaN());
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (gx) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
      const T q = std::nearbyint(x[i] / g.s) + g.z;
      gx[i] = (q >= g.qmin) & (q <= g.qmax) ? gy[i] : T(0);
    }
  }
  if (!want_sum) return 0.0;
  // dy/ds: r - v inside, qmin - z below, qmax - z above. The simd reduction's order is fixed by
  // the code, not by threads.
  const T s = g.s, z = g.z, qmin = g.qmin, qmax = g.qmax;
  const T below = qmin - z, above = qmax - z;
  double acc = 0;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) {
    const T v = x[i] / s, r = std::nearbyint(v), q = r + z;
    T d = r - v;
    d = q < qmin ? below : d;
    d = q > qmax ? above : d;
    acc += static_cast<double>(gy[i]) * static_cast<double>(d);
  }
  return acc;
}

// Task t of the [outer * channels rows] x [chunks of inner] split: its row and column range.
struct ChunkTask {
  int64_t row, begin, end;
};
static ChunkTask chunk_task(int64_t t, int64_t chunks, int64_t inner) {
  const int64_t row = t / chunks, begin = (t % chunks) * kChunk;
  return {row, begin, std::min(begin + kChunk, inner)};
}
static int64_t chunks_of(int64_t inner) {
  return std::max<int64_t>(1, (inner + kChunk - 1) / kChunk);
}

template <class T>
static void fake_quant_forward_cpu(const T* x, const T* scale, const T* zero_point, T* y,
                                   FakeQuantParams p) {
  const int64_t rows = p.outer * p.channels, chunks = chunks_of(p.inner);
#pragma omp parallel for if (rows * p.inner > kParallelMin)
  for (int64_t t = 0; t < rows * chunks; ++t) {
    const ChunkTask task = chunk_task(t, chunks, p.inner);
    const ChannelGrid<T> grid(scale, zero_point, task.row % p.channels, p);
    const int64_t first = task.row * p.inner + task.begin;
    forward_run(x + first, y + first, task.end - task.begin, grid);
  }
}

// Each task writes its part of gx and one double partial sum of gy * dy/ds; the partials of a
// channel are then added in (o, chunk) order, so the result does not depend on threads.
template <class T>
static void fake_quant_backward_cpu(const T* x, const T* scale, const T* zero_point, const T* gy,
                                    T* gx, T* gscale, FakeQuantParams p) {
  const int64_t rows = p.outer * p.channels, chunks = chunks_of(p.inner);
  std::vector<double> partial(gscale ? static_cast<size_t>(rows * chunks) : 0);
#pragma omp parallel for if (rows * p.inner > kParallelMin)
  for (int64_t t = 0; t < rows * chunks; ++t) {
    const ChunkTask task = chunk_task(t, chunks, p.inner);
    const ChannelGrid<T> grid(scale, zero_point, task.row % p.channels, p);
    const int64_t first = task.row * p.inner + task.begin;
    const double sum = backward_run(x + first, gy + first, gx ? gx + first : nullptr,
                                    task.end - task.begin, grid, gscale != nullptr);
    if (gscale) partial[t] = sum;
  }
  if (!gscale) return;
  for (int64_t c = 0; c < p.channels; ++c) {
    double sum = 0;
    for (int64_t o = 0; o < p.outer; ++o) {
      const double* row = partial.data() + (o * p.channels + c) * chunks;
      for (int64_t k = 0; k < chunks; ++k) sum += row[k];
    }
    gscale[c] = static_cast<T>(sum * p.grad_scale);
  }
}

KernelSlot<FakeQuantFwdFn> fake_quant_forward_kernel{
    "fake_quant_forward", fake_quant_forward_cpu<float>, fake_quant_forward_cpu<double>};
KernelSlot<FakeQuantBwdFn> fake_quant_backward_kernel{
    "fake_quant_backward", fake_quant_backward_cpu<float>, fake_quant_backward_cpu<double>};

// ---------------------------------------------------------------- checks

static FakeQuantParams fake_quant_params(const Tensor& x, const Tensor& scale,
                                         const Tensor& zero_point, int64_t qmin, int64_t qmax,
                                         int axis, double grad_scale) {
  NWQ_CHECK(x.defined() && scale.defined(), "fake_quant: x and scale must be defined");
  NWQ_CHECK(qmin < qmax, "fake_quant: qmin (", qmin, ") must be below qmax (", qmax, ")");
  NWQ_CHECK(axis >= -1 && axis < x.dim(), "fake_quant: axis ", axis, " out of range for x ",
            shape_str(x.sizes()), " (-1 = per tensor)");
  NWQ_CHECK(std::isfinite(grad_scale), "fake_quant: grad_scale must be finite, got ", grad_scale);
  const int64_t channels = axis < 0 ? 1 : x.size(axis);
  NWQ_CHECK(scale.numel() == channels, "fake_quant: scale ", shape_str(scale.sizes()), " for x ",
            shape_str(x.sizes()), " needs ", channels, " element(s) (axis ", axis, ")");
  NWQ_CHECK(!zero_point.defined() || zero_point.numel() == channels, "fake_quant: zero_point ",
            shape_str(zero_point.sizes()), " for x ", shape_str(x.sizes()), " needs ", channels,
            " element(s) (axis ", axis, ")");
  check_same("fake_quant", {x, scale, zero_point});
  FakeQuantParams p{1, channels, 1, double(qmin), double(qmax), grad_scale};
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (axis >= 0 && d < axis) p.outer *= x.size(d);
    if (d > axis) p.inner *= x.size(d);
  }
  return p;
}

// On the CPU: every scale positive and every zero point an integer.
template <class T>
static void check_grid_values(const Tensor& scale, const Tensor& zero_point) {
  if (!scale.device().is_cpu()) return;  // CUDA: NaN outputs instead (see the header)
  const T* s = scale.data<T>();
  for (int64_t c = 0; c < scale.numel(); ++c) {
    NWQ_CHECK(s[c] > T(0), "fake_quant: scale must be positive, got ", s[c], " at channel ", c);
  }
  if (!zero_point.defined()) return;
  const T* z = zero_point.data<T>();
  for (int64_t c = 0; c < zero_point.numel(); ++c) {
    NWQ_CHECK(std::nearbyint(z[c]) == z[c], "fake_quant: zero_point must be integer-valued, got ",
              z[c], " at channel ", c);
  }
}

// ---------------------------------------------------------------- op

Tensor fake_quant(const Tensor& x_in, const Tensor& scale_in, const Tensor& zero_point_in,
                  int64_t qmin, int64_t qmax, int axis, double grad_scale) {
  const FakeQuantParams p =
      fake_quant_params(x_in, scale_in, zero_point_in, qmin, qmax, axis, grad_scale);
  Tensor x = x_in.contiguous(), scale = scale_in.contiguous();
  Tensor zero_point = zero_point_in.defined() ? zero_point_in.contiguous() : Tensor();
  Tensor y = Tensor::empty(x.sizes(), x.dtype(), x.device());
  visit_float(x.dtype(), "fake_quant", [&](auto zero) {
    using T = decltype(zero);
    check_grid_values<T>(scale, zero_point);
    const T* z = zero_point.defined() ? zero_point.data<T>() : nullptr;
    fake_quant_forward_kernel.get<T>(x.device())(x.data<T>(), scale.data<T>(), z, y.data<T>(), p);
  });
  if (!should_record({x_in, scale_in})) return y;
  if (zero_point.defined()) zero_point = zero_point.detach();
  record("fake_quant", {x_in, scale_in}, y,
         [x = x.detach(), scale = scale.detach(), zero_point, p](const Tensor& gy_in,
                                                                 const std::vector<bool>& needs) {
           Tensor gy = gy_in.contiguous(), gx, gscale;
           if (needs[0]) gx = Tensor::empty(x.sizes(), x.dtype(), x.device());
           if (needs[1]) gscale = Tensor::empty(scale.sizes(), scale.dtype(), scale.device());
           visit_float(x.dtype(), "fake_quant", [&](auto zero) {
             using T = decltype(zero);
             const T* z = zero_point.defined() ? zero_point.data<T>() : nullptr;
             fake_quant_backward_kernel.get<T>(x.device())(
                 x.data<T>(), scale.data<T>(), z, gy.data<T>(),
                 gx.defined() ? gx.data<T>() : nullptr,
                 gscale.defined() ? gscale.data<T>() : nullptr, p);
           });
           return std::vector<Tensor>{gx, gscale};
         });
  return y;
}

}  // namespace nwq
