// CPU element loops for copies, casts, fills and adds, with CUDA handed to cuda_backend().
// A strided copy walks the source with an index counter; dims are few, so this stays simple.
#include "core/tensor_copy.h"

#include <cstring>

namespace nwq {

static DeviceBackend& cuda_or_throw(const char* what) {
  NWQ_CHECK(cuda_available(), what, ": CUDA backend not available");
  return cuda_backend();
}

static void strided_copy_cpu(char* dst, const char* src, size_t elem, const Shape& sizes,
                             const Shape& strides, int64_t n) {
  int ndim = static_cast<int>(sizes.size());
  std::vector<int64_t> index(ndim, 0);
  int64_t src_pos = 0;
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(dst + i * elem, src + src_pos * elem, elem);
    for (int d = ndim - 1; d >= 0; --d) {  // advance the counter, innermost dim first
      src_pos += strides[d];
      if (++index[d] < sizes[d]) break;
      src_pos -= strides[d] * sizes[d];
      index[d] = 0;
    }
  }
}

void copy_into_contiguous(const Tensor& src, Tensor& dst) {
  NWQ_CHECK(src.device() == dst.device(), "copy: devices differ");
  size_t elem = dtype_size(src.dtype());
  if (src.is_contiguous()) {
    copy_between_devices(src, dst);
    return;
  }
  if (src.device().is_cuda()) {
    cuda_or_throw("copy")
        .strided_copy(dst.raw_data(), src.raw_data(), elem, static_cast<int>(src.dim()),
                      src.sizes().data(), src.strides().data());
    return;
  }
  strided_copy_cpu(static_cast<char*>(dst.raw_data()), static_cast<const char*>(src.raw_data()),
                   elem, src.sizes(), src.strides(), src.numel());
}

void copy_between_devices(const Tensor& src, Tensor& dst) {
  size_t bytes = static_cast<size_t>(src.numel()) * dtype_size(src.dtype());
  if (bytes == 0) return;
  bool from_gpu = src.device().is_cuda(), to_gpu = dst.device().is_cuda();
  if (!from_gpu && !to_gpu) {
    std::memcpy(dst.raw_data(), src.raw_data(), bytes);
  } else if (from_gpu && to_gpu) {
    cuda_or_throw("copy").copy_device(dst.raw_data(), src.raw_data(), bytes);
  } else if (from_gpu) {
    cuda_or_throw("copy").copy_to_host(dst.raw_data(), src.raw_data(), bytes);
  } else {
    cuda_or_throw("copy").copy_from_host(dst.raw_data(), src.raw_data(), bytes);
  }
}

template <class D, class S>
static void cast_loop(D* dst, const S* src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<D>(src[i]);
}

template <class D>
static void cast_from(D* dst, const Tensor& src, int64_t n) {
  switch (src.dtype()) {
    case DType::F32: return cast_loop(dst, src.data<float>(), n);
    case DType::F64: return cast_loop(dst, src.data<double>(), n);
    case DType::I64: return cast_loop(dst, src.data<int64_t>(), n);
    case DType::I32: return cast_loop(dst, src.data<int32_t>(), n);
    case DType::U8: return cast_loop(dst, src.data<uint8_t>(), n);
    case DType::I8: return cast_loop(dst, src.data<int8_t>(), n);
  }
}

void cast_contiguous(const Tensor& src, Tensor& dst) {
  int64_t n = src.numel();
  if (src.device().is_cuda()) {
    cuda_or_throw("cast").cast(dst.raw_data(), dst.dtype(), src.raw_data(), src.dtype(), n);
    return;
  }
  switch (dst.dtype()) {
    case DType::F32: return cast_from(dst.data<float>(), src, n);
    case DType::F64: return cast_from(dst.data<double>(), src, n);
    case DType::I64: return cast_from(dst.data<int64_t>(), src, n);
    case DType::I32: return cast_from(dst.data<int32_t>(), src, n);
    case DType::U8: return cast_from(dst.data<uint8_t>(), src, n);
    case DType::I8: return cast_from(dst.data<int8_t>(), src, n);
  }
}

template <class T>
static void fill_loop(T* dst, int64_t n, double value) {
  T v = static_cast<T>(value);
  for (int64_t i = 0; i < n; ++i) dst[i] = v;
}

void fill_contiguous(Tensor& dst, double value) {
  int64_t n = dst.numel();
  if (dst.device().is_cuda()) {
    cuda_or_throw("fill").fill(dst.raw_data(), dst.dtype(), n, value);
    return;
  }
  switch (dst.dtype()) {
    case DType::F32: return fill_loop(dst.data<float>(), n, value);
    case DType::F64: return fill_loop(dst.data<double>(), n, value);
    case DType::I64: return fill_loop(dst.data<int64_t>(), n, value);
    case DType::I32: return fill_loop(dst.data<int32_t>(), n, value);
    case DType::U8: return fill_loop(dst.data<uint8_t>(), n, value);
    case DType::I8: return fill_loop(dst.data<int8_t>(), n, value);
  }
}

template <class T>
static void add_loop(T* dst, const T* src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
}

void add_contiguous(Tensor& dst, const Tensor& src) {
  int64_t n = dst.numel();
  if (dst.device().is_cuda()) {
    check_dtype(dst, DType::F32, "add_ on cuda");
    cuda_or_throw("add_").add_f32(dst.data<float>(), src.data<float>(), n);
    return;
  }
  switch (dst.dtype()) {
    case DType::F32: return add_loop(dst.data<float>(), src.data<float>(), n);
    case DType::F64: return add_loop(dst.data<double>(), src.data<double>(), n);
    case DType::I64: return add_loop(dst.data<int64_t>(), src.data<int64_t>(), n);
    default: throw Error(str("add_: unsupported dtype ", dtype_name(dst.dtype())));
  }
}

}  // namespace nwq
