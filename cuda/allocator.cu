// Caching device allocator: freed blocks go to a free list per rounded size and are handed out
// again, so NWQ's thousands of identical iterations do no cudaMalloc/cudaFree in steady state.
// On a cudaMalloc failure the cache is released and the call retried once before throwing.
#include <map>
#include <mutex>
#include <vector>

#include "cuda/backend.h"
#include "cuda/cuda_check.h"

namespace nwq {

namespace {

constexpr size_t kSmallStep = 512;               // cudaMalloc returns 256-byte aligned memory
constexpr size_t kSmallLimit = size_t(1) << 20;  // up to 1 MiB: 512 B size classes
constexpr size_t kLargeStep = size_t(128) << 10; // above: 128 KiB size classes

std::string mib(size_t bytes) { return str(bytes / double(1 << 20), " MiB"); }

class CachingAllocator : public Allocator {
 public:
  void* allocate(size_t bytes) override {
    size_t size = cuda_block_size(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    void* ptr = take_cached(size);
    if (!ptr) ptr = malloc_or_throw(bytes, size);
    stats_.in_use += size;
    if (stats_.in_use > stats_.peak) stats_.peak = stats_.in_use;
    return ptr;
  }

  // Never throws (called from ~Storage); the block stays cached for the next request.
  void deallocate(void* ptr, size_t bytes) override {
    if (!ptr) return;
    size_t size = cuda_block_size(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    free_lists_[size].push_back(ptr);
    stats_.in_use -= size;
    stats_.cached += size;
  }

  DeviceMemoryStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

  void reset_peak() {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.peak = stats_.in_use;
  }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    release_cache();
  }

 private:
  void* take_cached(size_t size) {
    auto it = free_lists_.find(size);
    if (it == free_lists_.end() || it->second.empty()) return nullptr;
    void* ptr = it->second.back();
    it->second.pop_back();
    stats_.cached -= size;
    return ptr;
  }

  void* malloc_or_throw(size_t bytes, size_t size) {
    void* ptr = nullptr;
    ++stats_.malloc_calls;
    if (cudaMalloc(&ptr, size) == cudaSuccess) return ptr;
    cudaGetLastError();  // clear the error so later launch checks do not report it
    release_cache();
    ++stats_.malloc_calls;
    cudaError_t err = cudaMalloc(&ptr, size);
    if (err == cudaSuccess) return ptr;
    cudaGetLastError();
    throw Error(str("cuda allocator: out of memory allocating ", bytes, " bytes (", mib(size),
                    " block): ", cudaGetErrorString(err), "; in use ", mib(stats_.in_use),
                    ", peak ", mib(stats_.peak)));
  }

  // Frees every cached block (caller holds the lock). Errors are ignored: nothing can be done.
  void release_cache() {
    for (auto& entry : free_lists_) {
      for (void* ptr : entry.second) {
        cudaFree(ptr);
        ++stats_.free_calls;
      }
      entry.second.clear();
    }
    free_lists_.clear();
    stats_.cached = 0;
    cudaGetLastError();
  }

  std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_lists_;  // rounded size -> cached blocks
  DeviceMemoryStats stats_;
};

CachingAllocator& instance() {
  static CachingAllocator* allocator = new CachingAllocator();  // outlives static tensors
  return *allocator;
}

}  // namespace

size_t cuda_block_size(size_t bytes) {
  if (bytes == 0) return kSmallStep;
  size_t step = bytes <= kSmallLimit ? kSmallStep : kLargeStep;
  return (bytes + step - 1) / step * step;
}

Allocator* cuda_caching_allocator() { return &instance(); }
DeviceMemoryStats cuda_memory_stats() { return instance().stats(); }
void cuda_reset_peak() { instance().reset_peak(); }
void cuda_empty_cache() { instance().empty_cache(); }

}  // namespace nwq
