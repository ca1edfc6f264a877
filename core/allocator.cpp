// The 64-byte-aligned CPU allocator and the slot where the CUDA backend plugs in.
// CPU allocations of zero bytes still return a valid unique pointer.
#include "core/allocator.h"

#include <cstdlib>
#include <new>

#include "core/error.h"

namespace nwq {

namespace {
class CpuAllocator : public Allocator {
 public:
  void* allocate(size_t bytes) override {
    size_t rounded = (bytes + 63) / 64 * 64;
    if (rounded == 0) rounded = 64;
    void* ptr = std::aligned_alloc(64, rounded);
    if (!ptr) throw Error(str("cpu allocator: out of memory allocating ", bytes, " bytes"));
    return ptr;
  }
  void deallocate(void* ptr, size_t) override { std::free(ptr); }
};
}  // namespace

Allocator* cpu_allocator() {
  static CpuAllocator allocator;
  return &allocator;
}

DeviceBackend& cuda_backend() {
  static DeviceBackend backend;
  return backend;
}

bool cuda_available() { return cuda_backend().allocator != nullptr; }

Allocator* allocator_for(Device device) {
  if (device.is_cpu()) return cpu_allocator();
  NWQ_CHECK(cuda_available(), "device ", device.name(),
            ": this build has no CUDA backend or no GPU is visible");
  return cuda_backend().allocator;
}

Device parse_device(const std::string& text, const std::string& flag) {
  if (text == "cpu") return Device::cpu();
  if (text == "cuda") return Device::cuda(0);
  if (text.rfind("cuda:", 0) == 0 && text.size() > 5 &&
      text.find_first_not_of("0123456789", 5) == std::string::npos && text.size() < 9) {
    return Device::cuda(std::stoi(text.substr(5)));
  }
  throw Error(str(flag, ": unknown device '", text, "' (expected cpu, cuda or cuda:N)"));
}

}  // namespace nwq
