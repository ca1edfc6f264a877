// CUDA twin of ops/reduce.cpp's sum kernel: x viewed as [outer, reduce, inner], y[o, i] =
// scale * sum_r x[o, r, i], accumulated in double in an order fixed by the shape alone (no
// atomics): long reductions are split into fixed segments whose double partial sums go to a
// scratch tensor from the caching allocator, then a second pass adds them in segment order.
#include <algorithm>

#include "core/tensor.h"
#include "cuda/block_reduce.cuh"
#include "ops/reduce.h"

namespace nwq {

constexpr int kSumThreads = 256;
constexpr int64_t kWarpRowMax = 4096;           // rows up to this long: one warp each
constexpr int64_t kRowSegment = 64 * kSumThreads;  // longer rows: segments of this, one block each
constexpr int64_t kColumnSegmentMin = 16;       // columns: at least this many r per thread
constexpr int64_t kColumnThreads = 1 << 17;     // columns: split r until this many threads

// inner == 1, short rows: warp w sums row w; y[o] = scale * sum.
__global__ void sum_rows_warp_kernel(const float* x, float* y, int64_t outer, int64_t n,
                                     double scale) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x >> 5);
  for (int64_t o = int64_t(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5); o < outer;
       o += warps) {
    const float* row = x + o * n;
    double acc = 0;
    for (int64_t r = lane; r < n; r += 32) acc += static_cast<double>(row[r]);
    acc = warp_sum(acc);
    if (lane == 0) y[o] = static_cast<float>(scale * acc);
  }
}

// inner == 1, long rows: block b sums segment s = b % segments of row o = b / segments into
// partial[b], or, with one segment a row, writes y[o] = scale * sum.
__global__ void sum_rows_segment_kernel(const float* x, float* y, double* partial, int64_t n,
                                        int64_t segments, double scale) {
  __shared__ double scratch[32];
  const int64_t o = blockIdx.x / segments, s = blockIdx.x % segments;
  const float* row = x + o * n;
  const int64_t end = min(n, (s + 1) * kRowSegment);
  const int64_t step = blockDim.x;
  double acc = 0;
  int64_t r = s * kRowSegment + threadIdx.x;
  for (; r + 3 * step < end; r += 4 * step) {  // four loads in flight, added in order
    const float v0 = row[r], v1 = row[r + step], v2 = row[r + 2 * step], v3 = row[r + 3 * step];
    acc += static_cast<double>(v0);
    acc += static_cast<double>(v1);
    acc += static_cast<double>(v2);
    acc += static_cast<double>(v3);
  }
  for (; r < end; r += step) acc += static_cast<double>(row[r]);
  acc = block_sum(acc, scratch);
  if (threadIdx.x != 0) return;
  if (segments == 1) y[o] = static_cast<float>(scale * acc);
  else partial[blockIdx.x] = acc;
}

// inner > 1: thread (o, s, i) (i fastest, so reads coalesce) walks r through segment s in order.
// With segments == 1 it writes y[o, i] = scale * sum; otherwise partial[(o, s, i)].
__global__ void sum_columns_kernel(const float* x, float* y, double* partial, int64_t outer,
                                   int64_t n, int64_t inner, int64_t segments, int64_t seg_len,
                                   double scale) {
  const int64_t total = outer * segments * inner;
  const int64_t stride = int64_t(blockDim.x) * gridDim.x;
  for (int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += stride) {
    const int64_t i = t % inner, rest = t / inner;
    const int64_t s = rest % segments, o = rest / segments;
    const int64_t begin = s * seg_len, end = min(n, begin + seg_len);
    const float* col = x + (o * n) * inner + i;
    double acc = 0;
    for (int64_t r = begin; r < end; ++r) acc += static_cast<double>(col[r * inner]);
    if (segments == 1) y[o * inner + i] = static_cast<float>(scale * acc);
    else partial[t] = acc;
  }
}

// y[o, i] = scale * sum over s of partial[(o, s, i)]: a warp per output, lane l adding the
// segments l, l + 32, ... in order, then the fixed warp tree.
__global__ void sum_partials_kernel(const double* partial, float* y, int64_t outer,
                                    int64_t segments, int64_t inner, double scale) {
  const int lane = threadIdx.x & 31;
  const int64_t total = outer * inner;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x >> 5);
  for (int64_t t = int64_t(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5); t < total;
       t += warps) {
    const int64_t i = t % inner, o = t / inner;
    const double* p = partial + o * segments * inner + i;
    double acc = 0;
    for (int64_t s = lane; s < segments; s += 32) acc += p[s * inner];
    acc = warp_sum(acc);
    if (lane == 0) y[t] = static_cast<float>(scale * acc);
  }
}

struct FillOp {
  float* y;
  float v;
  __device__ void operator()(int64_t i) const { y[i] = v; }
};

static void finish_partials(const Tensor& partial, float* y, int64_t outer, int64_t segments,
                            int64_t inner, double scale) {
  const int64_t warps_per_block = kSumThreads / 32;
  const int64_t blocks = std::min<int64_t>((outer * inner + warps_per_block - 1) / warps_per_block,
                                           kMaxGrid);
  sum_partials_kernel<<<unsigned(blocks), kSumThreads>>>(partial.data<double>(), y, outer,
                                                         segments, inner, scale);
  check_launch("sum (partials)");
}

static void sum_rows(const float* x, float* y, int64_t outer, int64_t n, double scale) {
  if (n <= kWarpRowMax) {
    const int64_t warps_per_block = kSumThreads / 32;
    const int64_t blocks = std::min<int64_t>((outer + warps_per_block - 1) / warps_per_block,
                                             kMaxGrid);
    sum_rows_warp_kernel<<<unsigned(blocks), kSumThreads>>>(x, y, outer, n, scale);
    check_launch("sum (rows)");
    return;
  }
  const int64_t segments = (n + kRowSegment - 1) / kRowSegment;
  NWQ_CHECK(outer * segments < (int64_t(1) << 31), "sum: ", outer, " rows of ", n,
            " elements exceed the CUDA grid");
  Tensor partial;
  if (segments > 1) partial = Tensor::empty({outer * segments}, DType::F64, Device::cuda());
  sum_rows_segment_kernel<<<unsigned(outer * segments), kSumThreads>>>(
      x, y, segments > 1 ? partial.data<double>() : nullptr, n, segments, scale);
  check_launch("sum (row segments)");
  if (segments > 1) finish_partials(partial, y, outer, segments, 1, scale);
}

static void sum_columns(const float* x, float* y, int64_t outer, int64_t n, int64_t inner,
                        double scale) {
  const int64_t outputs = outer * inner;
  // Split r only while there are too few threads, and never below kColumnSegmentMin per thread.
  int64_t segments = std::max<int64_t>(1, kColumnThreads / outputs);
  segments = std::min(segments, std::max<int64_t>(1, n / kColumnSegmentMin));
  const int64_t seg_len = (n + segments - 1) / segments;
  segments = (n + seg_len - 1) / seg_len;
  Tensor partial;
  if (segments > 1) partial = Tensor::empty({outputs * segments}, DType::F64, Device::cuda());
  double* partial_ptr = segments > 1 ? partial.data<double>() : nullptr;
  sum_columns_kernel<<<grid_for(outputs * segments), kBlockSize>>>(
      x, y, partial_ptr, outer, n, inner, segments, seg_len, scale);
  check_launch("sum (columns)");
  if (segments > 1) finish_partials(partial, y, outer, segments, inner, scale);
}

void sum_cuda(const float* x, float* y, SumParams p) {
  if (p.outer * p.inner == 0) return;
  if (p.reduce == 0) {  // an empty sum: 0, or NaN for a mean (scale = 1/0)
    launch_elementwise("sum", p.outer * p.inner, FillOp{y, static_cast<float>(p.scale * 0.0)});
    return;
  }
  if (p.inner == 1) sum_rows(x, y, p.outer, p.reduce, p.scale);
  else sum_columns(x, y, p.outer, p.reduce, p.inner, p.scale);
}

}  // namespace nwq
