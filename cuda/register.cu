// The CUDA registration list: the one place that installs the device backend (allocator, copies,
// casts) into cuda_backend() and every CUDA kernel into its op's KernelSlot. Adding a CUDA kernel
// means declaring it in the list below and assigning it in register_cuda_kernels().
#include <type_traits>

#include "cuda/backend.h"
#include "cuda/cublas_handle.h"
#include "cuda/cuda_check.h"
#include "ops/activation.h"
#include "optim/optimizer.h"

namespace nwq {

// The function type of a slot's float kernel: declaring `CudaKernel<ClampFwdFn> relu_forward_cuda;`
// gives the kernel exactly the slot's signature (a mismatched definition fails to link).
template <template <class> class Fn>
using CudaKernel = std::remove_pointer_t<Fn<float>>;

// ---- kernels defined in cuda/<op>.cu (same stem as ops/<op>.cpp) ----
CudaKernel<ClampFwdFn> relu_forward_cuda;  // cuda/activation.cu
CudaKernel<ClampBwdFn> relu_backward_cuda;
CudaKernel<SgdStepFn> sgd_step_cuda;  // cuda/optimizer.cu
CudaKernel<AdamStepFn> adam_step_cuda;
// -- elementwise, reduce, shape, loss, batch_norm kernels --
// -- conv2d, depthwise, linear, pooling kernels --

static void register_cuda_kernels() {
  relu_forward_kernel.cuda_f32 = relu_forward_cuda;
  relu_backward_kernel.cuda_f32 = relu_backward_cuda;
  sgd_step_kernel.cuda_f32 = sgd_step_cuda;
  adam_step_kernel.cuda_f32 = adam_step_cuda;
  // -- elementwise, reduce, shape, loss, batch_norm kernels --
  // -- conv2d, depthwise, linear, pooling kernels --
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
