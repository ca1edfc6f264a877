// CUDA start-up: installs the device backend (allocator, copies, casts) into cuda_backend() and
// every CUDA kernel of cuda/kernel_list.h into its op's KernelSlot, when a GPU is found.
#include <string>
#include <type_traits>
#include <vector>

#include "cuda/backend.h"
#include "cuda/cublas_handle.h"
#include "cuda/cuda_check.h"
#include "ops/backend.h"

namespace nwq {
// The function type of a slot's float kernel: declaring `CudaKernel<ClampFwdFn> relu_forward_cuda;`
// gives the kernel exactly the slot's signature (a mismatched definition fails to link).
template <template <class> class Fn>
using CudaKernel = std::remove_pointer_t<Fn<float>>;
}  // namespace nwq

// The three uses of the one list in cuda/kernel_list.h. First, at file scope (this inclusion also
// reads the op headers): every CUDA function declared with its slot's exact signature, so a
// definition in cuda/<op>.cu with another signature, or none, fails to link.
#define NWQ_CUDA_KERNEL(stem, Fn) \
  namespace nwq {                 \
  CudaKernel<Fn> stem##_cuda;     \
  }
#include "cuda/kernel_list.h"
#undef NWQ_CUDA_KERNEL

namespace nwq {

// Second: every slot gets its function.
static void register_cuda_kernels() {
#define NWQ_CUDA_KERNEL(stem, Fn) stem##_kernel.cuda_f32 = stem##_cuda;
#include "cuda/kernel_list.h"
#undef NWQ_CUDA_KERNEL
}

// Third: the slot names of the list, for the test (no GPU needed) that every slot has a CUDA
// kernel (declared in ops/backend.h).
std::vector<std::string> cuda_kernel_names() {
  return {
#define NWQ_CUDA_KERNEL(stem, Fn) #stem,
#include "cuda/kernel_list.h"
#undef NWQ_CUDA_KERNEL
  };
}

static void fill_device_backend(DeviceBackend& b) {
  b.copy_to_host = cuda_copy_to_host;
  b.copy_from_host = cuda_copy_from_host;
  b.copy_device = cuda_copy_device;
  b.memset_zero = cuda_memset_zero;
  b.synchronize = cuda_synchronize;
  b.strided_copy = cuda_strided_copy;
  b.fill = cuda_fill;
  b.add_f32 = cuda_add_f32;
  b.cast = cuda_cast;
  b.memory_stats = cuda_memory_stats;
  b.reset_peak = cuda_reset_peak;
  b.empty_cache = cuda_empty_cache;
  b.set_tf32 = set_tf32;
  b.allocator = cuda_caching_allocator();  // last: cuda_available() tests this field
}

// Returns false, filling nothing, when no CUDA device is visible (a CI machine with nvcc but no
// GPU runs CPU-only). Errors after a device was found (context, cuBLAS) throw.
bool register_cuda_backend() {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || count == 0) {
    cudaGetLastError();  // clear the error
    return false;
  }
  CUDA_CHECK(cudaSetDevice(0));
  CUDA_CHECK(cudaFree(nullptr));  // create the context now, not inside the first op
  cublas_handle();                // TF32 off
  register_cuda_kernels();
  fill_device_backend(cuda_backend());
  return true;
}

}  // namespace nwq
