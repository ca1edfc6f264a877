// DeviceBackend's CUDA functions: memcpy/memset wrappers, the strided gather behind
// contiguous() on the GPU, and the fill / add / cast element loops. Default stream throughout.
#include <cmath>
#include <vector>

#include "cuda/backend.h"
#include "cuda/launch.cuh"

namespace nwq {

void cuda_copy_to_host(void* dst, const void* src, size_t bytes) {
  CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}

void cuda_copy_from_host(void* dst, const void* src, size_t bytes) {
  CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}

void cuda_copy_device(void* dst, const void* src, size_t bytes) {
  CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice));
}

void cuda_memset_zero(void* dst, size_t bytes) { CUDA_CHECK(cudaMemset(dst, 0, bytes)); }

void cuda_synchronize() { CUDA_CHECK(cudaDeviceSynchronize()); }

// ---- strided gather ----

constexpr int kMaxDims = 8;

struct StridedLayout {
  int ndim;
  int64_t sizes[kMaxDims];
  int64_t strides[kMaxDims];
};

// dst[i] = src[offset of the i-th element in row-major order of the view].
template <class T>
struct GatherOp {
  T* dst;
  const T* src;
  StridedLayout layout;
  __device__ void operator()(int64_t i) const {
    int64_t rest = i, offset = 0;
    for (int d = layout.ndim - 1; d >= 0; --d) {
      offset += (rest % layout.sizes[d]) * layout.strides[d];
      rest /= layout.sizes[d];
    }
    dst[i] = src[offset];
  }
};

// Drops size-1 dims and merges dim d into d+1 where stride[d] == stride[d+1] * size[d+1].
static int merge_dims(int ndim, const int64_t* sizes, const int64_t* strides, int64_t* out_sizes,
                      int64_t* out_strides) {
  int m = 0;
  for (int d = 0; d < ndim; ++d) {
    if (sizes[d] == 1) continue;
    if (m > 0 && out_strides[m - 1] == strides[d] * sizes[d]) {
      out_sizes[m - 1] *= sizes[d];
      out_strides[m - 1] = strides[d];
    } else {
      out_sizes[m] = sizes[d];
      out_strides[m] = strides[d];
      ++m;
    }
  }
  return m;
}

template <class T>
static void gather(void* dst, const void* src, const StridedLayout& layout, int64_t n) {
  launch_elementwise("strided_copy", n,
                     GatherOp<T>{static_cast<T*>(dst), static_cast<const T*>(src), layout});
}

void cuda_strided_copy(void* dst, const void* src, size_t elem_size, int ndim,
                       const int64_t* sizes, const int64_t* strides) {
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) n *= sizes[d];
  if (n == 0) return;
  std::vector<int64_t> merged_sizes(ndim + 1), merged_strides(ndim + 1);
  int m = merge_dims(ndim, sizes, strides, merged_sizes.data(), merged_strides.data());
  NWQ_CHECK(m <= kMaxDims, "strided_copy on cuda: ", m, " non-mergeable dims (at most ", kMaxDims,
            ")");
  if (m == 0 || (m == 1 && merged_strides[0] == 1)) {  // the view is contiguous after all
    cuda_copy_device(dst, src, static_cast<size_t>(n) * elem_size);
    return;
  }
  StridedLayout layout{};
  layout.ndim = m;
  for (int d = 0; d < m; ++d) {
    layout.sizes[d] = merged_sizes[d];
    layout.strides[d] = merged_strides[d];
  }
  switch (elem_size) {
    case 1: return gather<uint8_t>(dst, src, layout, n);
    case 2: return gather<uint16_t>(dst, src, layout, n);
    case 4: return gather<uint32_t>(dst, src, layout, n);
    case 8: return gather<uint64_t>(dst, src, layout, n);
    default: throw Error(str("strided_copy on cuda: unsupported element size ", elem_size));
  }
}

// ---- fill, add, cast ----

template <class T>
struct FillOp {
  T* dst;
  T value;
  __device__ void operator()(int64_t i) const { dst[i] = value; }
};

template <class T>
static void fill_typed(void* dst, int64_t n, double value) {
  launch_elementwise("fill", n, FillOp<T>{static_cast<T*>(dst), static_cast<T>(value)});
}

void cuda_fill(void* dst, DType dtype, int64_t n, double value) {
  if (value == 0.0 && !std::signbit(value)) {  // all-zero bytes for every dtype
    cuda_memset_zero(dst, static_cast<size_t>(n) * dtype_size(dtype));
    return;
  }
  switch (dtype) {
    case DType::F32: return fill_typed<float>(dst, n, value);
    case DType::F64: return fill_typed<double>(dst, n, value);
    case DType::I64: return fill_typed<int64_t>(dst, n, value);
    case DType::I32: return fill_typed<int32_t>(dst, n, value);
    case DType::U8: return fill_typed<uint8_t>(dst, n, value);
    case DType::I8: return fill_typed<int8_t>(dst, n, value);
  }
}

struct AddOp {
  float* dst;
  const float* src;
  __device__ void operator()(int64_t i) const { dst[i] += src[i]; }
};

void cuda_add_f32(float* dst, const float* src, int64_t n) {
  launch_elementwise("add_f32", n, AddOp{dst, src});
}

// Casts follow static_cast, as the CPU loop does (float -> int truncates toward zero).
template <class D, class S>
struct CastOp {
  D* dst;
  const S* src;
  __device__ void operator()(int64_t i) const { dst[i] = static_cast<D>(src[i]); }
};

template <class D, class S>
static void cast_typed(void* dst, const void* src, int64_t n) {
  launch_elementwise("cast", n, CastOp<D, S>{static_cast<D*>(dst), static_cast<const S*>(src)});
}

template <class D>
static void cast_to(void* dst, const void* src, DType src_dtype, int64_t n) {
  switch (src_dtype) {
    case DType::F32: return cast_typed<D, float>(dst, src, n);
    case DType::F64: return cast_typed<D, double>(dst, src, n);
    case DType::I64: return cast_typed<D, int64_t>(dst, src, n);
    case DType::I32: return cast_typed<D, int32_t>(dst, src, n);
    case DType::U8: return cast_typed<D, uint8_t>(dst, src, n);
    case DType::I8: return cast_typed<D, int8_t>(dst, src, n);
  }
}

void cuda_cast(void* dst, DType dst_dtype, const void* src, DType src_dtype, int64_t n) {
  switch (dst_dtype) {
    case DType::F32: return cast_to<float>(dst, src, src_dtype, n);
    case DType::F64: return cast_to<double>(dst, src, src_dtype, n);
    case DType::I64: return cast_to<int64_t>(dst, src, src_dtype, n);
    case DType::I32: return cast_to<int32_t>(dst, src, src_dtype, n);
    case DType::U8: return cast_to<uint8_t>(dst, src, src_dtype, n);
    case DType::I8: return cast_to<int8_t>(dst, src, src_dtype, n);
  }
}

}  // namespace nwq
