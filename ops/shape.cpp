// Shape ops with autograd. reshape and permute reuse Tensor's views and copies; concat and
// pad_channels move contiguous slabs with one kernel; subsample_spatial has its own pair.
#include "ops/shape.h"

#include <algorithm>

#include "autograd/node.h"

namespace nwq {

static constexpr int64_t kParallelMin = 1 << 16;  // below this, threads cost more than they save

// ---------------------------------------------------------------- CPU kernels

template <class T>
static void slab_copy_cpu(const T* src, T* dst, SlabCopyParams p) {
#pragma omp parallel for if (p.outer * p.len > kParallelMin)
  for (int64_t o = 0; o < p.outer; ++o) {
    std::copy(src + o * p.src_stride, src + o * p.src_stride + p.len, dst + o * p.dst_stride);
  }
}

template <class T>
static void subsample_forward_cpu(const T* x, T* y, SubsampleParams p) {
#pragma omp parallel for if (p.planes * p.out_height * p.out_width > kParallelMin)
  for (int64_t c = 0; c < p.planes; ++c) {
    for (int64_t i = 0; i < p.out_height; ++i) {
      const T* row = x + (c * p.height + i * p.stride) * p.width;
      T* out = y + (c * p.out_height + i) * p.out_width;
      for (int64_t j = 0; j < p.out_width; ++j) out[j] = row[j * p.stride];
    }
  }
}

template <class T>
static void subsample_backward_cpu(const T* gy, T* gx, SubsampleParams p) {
#pragma omp parallel for if (p.planes * p.height * p.width > kParallelMin)
  for (int64_t c = 0; c < p.planes; ++c) {
    for (int64_t h = 0; h < p.height; ++h) {
      T* row = gx + (c * p.height + h) * p.width;
      std::fill(row, row + p.width, T(0));
      if (h % p.stride != 0) continue;
      const T* g = gy + (c * p.out_height + h / p.stride) * p.out_width;
      for (int64_t j = 0; j < p.out_width; ++j) row[j * p.stride] = g[j];
    }
  }
}

KernelSlot<SlabCopyFn> slab_copy_kernel{"slab_copy", slab_copy_cpu<float>, slab_copy_cpu<double>};
KernelSlot<SubsampleFwdFn> subsample_forward_kernel{
    "subsample_forward", subsample_forward_cpu<float>, subsample_forward_cpu<double>};
KernelSlot<SubsampleBwdFn> subsample_backward_kernel{
    "subsample_backward", subsample_backward_cpu<float>, subsample_backward_cpu<double>};

// ---------------------------------------------------------------- helpers

// Copies a slab from src (starting at element src_at) to dst (starting at dst_at).
static void copy_slab(const char* op, const Tensor& src, int64_t src_at, Tensor& dst,
                      int64_t dst_at, SlabCopyParams p) {
  if (p.outer == 0 || p.len == 0) return;
  visit_float(src.dtype(), op, [&](auto zero) {
    using T = decltype(zero);
    slab_copy_kernel.get<T>(src.device())(src.data<T>() + src_at, dst.data<T>() + dst_at, p);
  });
}

static int64_t normalize_dim(const char* op, int64_t dim, const Tensor& x) {
  const int64_t d = dim < 0 ? dim + x.dim() : dim;
  NWQ_CHECK(d >= 0 && d < x.dim(), op, ": dim ", dim, " out of range for ", x.describe());
  return d;
}

static void check_nchw(const char* op, const Tensor& x) {
  NWQ_CHECK(x.dim() == 4, op, ": expected an NCHW tensor (4 dims), got ", x.describe());
}

// `shape` with its -1 filled in; throws unless it holds exactly x.numel() elements.
static Shape resolve_shape(const Tensor& x, const Shape& shape) {
  Shape out = shape;
  int64_t known = 1;
  auto infer = out.end();
  for (auto it = out.begin(); it != out.end(); ++it) {
    NWQ_CHECK(*it >= -1 && (*it != -1 || infer == out.end()), "reshape: invalid shape ",
              shape_str(shape), " for ", x.describe());
    if (*it == -1) infer = it;
    else known *= *it;
  }
  if (infer != out.end() && known > 0) *infer = x.numel() / known;
  NWQ_CHECK(infer == out.end() || known > 0, "reshape: cannot infer -1 in ", shape_str(shape),
            " for ", x.describe());
  NWQ_CHECK(shape_numel(out) == x.numel(), "reshape: cannot reshape ", x.describe(), " to ",
            shape_str(shape));
  return out;
}

// ---------------------------------------------------------------- reshape, flatten, permute

Tensor reshape(const Tensor& x, const Shape& shape) {
  Tensor y = x.contiguous().view(resolve_shape(x, shape));  // a new handle, never x itself
  if (should_record({x})) {
    record("reshape", {x}, y, [xsh = x.sizes()](const Tensor& gy, const std::vector<bool>&) {
      return std::vector<Tensor>{gy.contiguous().view(xsh)};
    });
  }
  return y;
}

Tensor flatten(const Tensor& x, int64_t start_dim) {
  const int64_t s = normalize_dim("flatten", start_dim, x);
  Shape shape(x.sizes().begin(), x.sizes().begin() + s);
  shape.push_back(-1);
  if (x.numel() == 0) shape.back() = shape_numel(Shape(x.sizes().begin() + s, x.sizes().end()));
  return reshape(x, shape);
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  NWQ_CHECK(static_cast<int64_t>(dims.size()) == x.dim(), "permute: ", dims.size(),
            " dims given for ", x.describe());
  std::vector<int64_t> perm(dims.size()), inverse(dims.size(), -1);
  for (size_t i = 0; i < dims.size(); ++i) {
    perm[i] = normalize_dim("permute", dims[i], x);
    NWQ_CHECK(inverse[perm[i]] < 0, "permute: dim ", dims[i], " repeated for ", x.describe());
    inverse[perm[i]] = static_cast<int64_t>(i);
  }
  Tensor y = x.permute(perm).contiguous();  // permute() returns a new handle
  if (should_record({x})) {
    record("permute", {x}, y, [inverse](const Tensor& gy, const std::vector<bool>&) {
      return std::vector<Tensor>{gy.permute(inverse).contiguous()};
    });
  }
  return y;
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  std::vector<int64_t> dims(static_cast<size_t>(x.dim()));
  for (size_t i = 0; i < dims.size(); ++i) dims[i] = static_cast<int64_t>(i);
  std::swap(dims[normalize_dim("transpose", d0, x)], dims[normalize_dim("transpose", d1, x)]);
  return permute(x, dims);
}

// ---------------------------------------------------------------- concat, pad, subsample

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  NWQ_CHECK(!xs.empty(), "concat: no tensors given");
  check_same("concat", xs);
  const size_t d = static_cast<size_t>(normalize_dim("concat", dim, xs[0]));
  std::vector<Shape> shapes;
  Shape out = xs[0].sizes();
  out[d] = 0;
  for (const Tensor& x : xs) {
    Shape a = x.sizes(), b = xs[0].sizes();
    if (a.size() == b.size()) a[d] = b[d] = 0;
    NWQ_CHECK(a == b, "concat: shapes ", shape_str(xs[0].sizes()), " and ",
              shape_str(x.sizes()), " differ outside dim ", dim);
    shapes.push_back(x.sizes());
    out[d] += x.sizes()[d];
  }
  const int64_t outer = shape_numel(Shape(out.begin(), out.begin() + d));
  const int64_t inner = shape_numel(Shape(out.begin() + d + 1, out.end()));
  const int64_t total = out[d] * inner;  // elements per outer step in y
  Tensor y = Tensor::empty(out, xs[0].dtype(), xs[0].device());
  int64_t at = 0;  // where input k starts inside each outer step of y
  for (size_t k = 0; k < xs.size(); ++k) {
    const int64_t len = shapes[k][d] * inner;
    copy_slab("concat", xs[k].contiguous(), 0, y, at, SlabCopyParams{outer, len, len, total});
    at += len;
  }
  if (should_record(xs)) {
    record("concat", xs, y, [shapes, d, outer, inner, total](const Tensor& gy_in,
                                                             const std::vector<bool>& needs) {
      Tensor gy = gy_in.contiguous();
      std::vector<Tensor> grads(shapes.size());
      int64_t at = 0;
      for (size_t k = 0; k < shapes.size(); ++k) {
        const int64_t len = shapes[k][d] * inner;
        if (needs[k]) {
          grads[k] = Tensor::empty(shapes[k], gy.dtype(), gy.device());
          copy_slab("concat", gy, at, grads[k], 0, SlabCopyParams{outer, len, total, len});
        }
        at += len;
      }
      return grads;
    });
  }
  return y;
}

Tensor pad_channels(const Tensor& x_in, int64_t before, int64_t after) {
  check_nchw("pad_channels", x_in);
  NWQ_CHECK(before >= 0 && after >= 0, "pad_channels: negative padding (", before, ", ", after,
            ") for ", x_in.describe());
  Tensor x = x_in.contiguous();
  const int64_t n = x.size(0), c = x.size(1), hw = x.size(2) * x.size(3);
  const int64_t c_out = before + c + after;
  Tensor y = Tensor::zeros({n, c_out, x.size(2), x.size(3)}, x.dtype(), x.device());
  copy_slab("pad_channels", x, 0, y, before * hw, SlabCopyParams{n, c * hw, c * hw, c_out * hw});
  if (should_record({x_in})) {
    record("pad_channels", {x_in}, y,
           [xsh = x.sizes(), before, hw, c_out](const Tensor& gy_in, const std::vector<bool>&) {
             Tensor gy = gy_in.contiguous();
             Tensor gx = Tensor::empty(xsh, gy.dtype(), gy.device());
             const int64_t len = xsh[1] * hw;
             copy_slab("pad_channels", gy, before * hw, gx, 0,
                       SlabCopyParams{xsh[0], len, c_out * hw, len});
             return std::vector<Tensor>{gx};
           });
  }
  return y;
}

Tensor subsample_spatial(const Tensor& x_in, int64_t stride) {
  check_nchw("subsample_spatial", x_in);
  NWQ_CHECK(stride >= 1, "subsample_spatial: stride must be >= 1, got ", stride, " for ",
            x_in.describe());
  Tensor x = x_in.contiguous();
  const SubsampleParams p{x.size(0) * x.size(1), x.size(2), x.size(3),
                          (x.size(2) + stride - 1) / stride, (x.size(3) + stride - 1) / stride,
                          stride};
  Tensor y = Tensor::empty({x.size(0), x.size(1), p.out_height, p.out_width}, x.dtype(),
                           x.device());
  visit_float(x.dtype(), "subsample_spatial", [&](auto zero) {
    using T = decltype(zero);
    subsample_forward_kernel.get<T>(x.device())(x.data<T>(), y.data<T>(), p);
  });
  if (should_record({x_in})) {
    record("subsample_spatial", {x_in}, y,
           [xsh = x.sizes(), p](const Tensor& gy_in, const std::vector<bool>&) {
             Tensor gy = gy_in.contiguous();
             Tensor gx = Tensor::empty(xsh, gy.dtype(), gy.device());
             visit_float(gy.dtype(), "subsample_spatial", [&](auto zero) {
               using T = decltype(zero);
               subsample_backward_kernel.get<T>(gy.device())(gy.data<T>(), gx.data<T>(), p);
             });
             return std::vector<Tensor>{gx};
           });
  }
  return y;
}

}  // namespace nwq
