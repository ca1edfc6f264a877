// The CUDA functions behind DeviceBackend (core/allocator.h): the caching allocator and its
// counters, copies, memset, sync, strided gather, fill, add and cast. Installed by cuda/register.cu.
// Everything runs on the default (legacy) stream; copies to and from the host are synchronous.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/allocator.h"

namespace nwq {

// ---- cuda/allocator.cu ----
// The one caching allocator for the device (never destroyed: blocks outlive static tensors).
Allocator* cuda_caching_allocator();
DeviceMemoryStats cuda_memory_stats();
void cuda_reset_peak();
void cuda_empty_cache();
// Rounded block size for a request: 512 B steps up to 1 MiB, 128 KiB steps above (0 -> 512).
size_t cuda_block_size(size_t bytes);

// ---- cuda/backend.cu ----
void cuda_copy_to_host(void* dst, const void* src, size_t bytes);
void cuda_copy_from_host(void* dst, const void* src, size_t bytes);
void cuda_copy_device(void* dst, const void* src, size_t bytes);
void cuda_memset_zero(void* dst, size_t bytes);
void cuda_synchronize();
// dst: contiguous, numel = prod(sizes); src: the view's first element; strides in elements.
// elem_size 1, 2, 4 or 8; up to 8 dims after merging dims that are contiguous with each other.
void cuda_strided_copy(void* dst, const void* src, size_t elem_size, int ndim,
                       const int64_t* sizes, const int64_t* strides);
void cuda_fill(void* dst, DType dtype, int64_t n, double value);
void cuda_add_f32(float* dst, const float* src, int64_t n);  // dst += src
void cuda_cast(void* dst, DType dst_dtype, const void* src, DType src_dtype, int64_t n);

}  // namespace nwq
