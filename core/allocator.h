// Allocators own raw device memory. CPU memory is 64-byte aligned; the CUDA backend
// installs a caching allocator and its helpers into cuda_backend() (cuda/register.cu).
#pragma once
#include <cstddef>

#include <cstdint>

#include "core/device.h"
#include "core/dtype.h"

namespace nwq {

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* ptr, size_t bytes) = 0;
};

// Counters of the CUDA caching allocator. Byte counts are of rounded block sizes.
struct DeviceMemoryStats {
  size_t in_use = 0;         // bytes held by live allocations
  size_t peak = 0;           // highest in_use since start or the last reset_peak()
  size_t cached = 0;         // bytes in the allocator's free lists (reserved, not in use)
  int64_t malloc_calls = 0;  // cudaMalloc calls so far (steady state: no new ones)
  int64_t free_calls = 0;    // cudaFree calls so far (only when the cache is emptied)
};

// Device-level helpers the CUDA backend fills in (memcpy across devices, memset, sync).
struct DeviceBackend {
  Allocator* allocator = nullptr;
  void (*copy_to_host)(void* dst, const void* src, size_t bytes) = nullptr;
  void (*copy_from_host)(void* dst, const void* src, size_t bytes) = nullptr;
  void (*copy_device)(void* dst, const void* src, size_t bytes) = nullptr;
  void (*memset_zero)(void* dst, size_t bytes) = nullptr;
  void (*synchronize)() = nullptr;
  // Gathers a strided view (src points at its first element) into contiguous dst.
  void (*strided_copy)(void* dst, const void* src, size_t elem_size, int ndim,
                       const int64_t* sizes, const int64_t* strides) = nullptr;
  void (*fill)(void* dst, DType dtype, int64_t n, double value) = nullptr;
  void (*add_f32)(float* dst, const float* src, int64_t n) = nullptr;  // dst += src
  void (*cast)(void* dst, DType dst_dtype, const void* src, DType src_dtype, int64_t n) = nullptr;
  DeviceMemoryStats (*memory_stats)() = nullptr;
  void (*reset_peak)() = nullptr;   // peak := in_use
  void (*empty_cache)() = nullptr;  // cudaFree every cached (unused) block
  void (*set_tf32)(bool enabled) = nullptr;  // TF32 tensor-core math in cuBLAS sgemm (off by default)
};

Allocator* cpu_allocator();
// The CUDA backend; its fields are null in a CPU-only build (cuda_available() is false then).
DeviceBackend& cuda_backend();
bool cuda_available();
Allocator* allocator_for(Device device);

}  // namespace nwq
