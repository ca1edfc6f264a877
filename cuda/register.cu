// The CUDA registration list: the one place that installs the device backend (allocator, copies,
// casts) into cuda_backend() and every CUDA kernel into its op's KernelSlot. Adding a CUDA kernel
// means declaring it in the list below and assigning it in register_cuda_kernels().
#include <type_traits>

#include "cuda/backend.h"
#include "cuda/cublas_handle.h"
#include "cuda/cuda_check.h"
#include "ops/activation.h"
#include "ops/batch_norm.h"
#include "ops/conv2d.h"
#include "ops/elementwise.h"
#include "ops/fake_quant.h"
#include "ops/linear.h"
#include "ops/lp_error.h"
#include "ops/loss.h"
#include "ops/mix.h"
#include "ops/pool.h"
#include "ops/reduce.h"
#include "ops/shape.h"
#include "ops/soft_round.h"
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
CudaKernel<BinaryFwdFn> binary_forward_cuda;  // cuda/elementwise_binary.cu
CudaKernel<ExpandFn> expand_cuda;
CudaKernel<UnaryFwdFn> unary_forward_cuda;  // cuda/elementwise_unary.cu
CudaKernel<UnaryBwdFn> unary_backward_cuda;
CudaKernel<WhereFwdFn> where_forward_cuda;
CudaKernel<WhereBwdFn> where_backward_cuda;
CudaKernel<GreaterFn> greater_cuda;
CudaKernel<SumFn> sum_cuda;  // cuda/reduce.cu
CudaKernel<SlabCopyFn> slab_copy_cuda;  // cuda/shape.cu
CudaKernel<SubsampleFwdFn> subsample_forward_cuda;
CudaKernel<SubsampleBwdFn> subsample_backward_cuda;
CudaKernel<LogSoftmaxFwdFn> log_softmax_forward_cuda;  // cuda/loss.cu
CudaKernel<LogSoftmaxBwdFn> log_softmax_backward_cuda;
CudaKernel<CrossEntropyFwdFn> cross_entropy_forward_cuda;
CudaKernel<CrossEntropyBwdFn> cross_entropy_backward_cuda;
CudaKernel<MseFwdFn> mse_loss_forward_cuda;
CudaKernel<MseBwdFn> mse_loss_backward_cuda;
CudaKernel<BatchNormTrainFwdFn> batch_norm_forward_train_cuda;  // cuda/batch_norm.cu
CudaKernel<BatchNormEvalFwdFn> batch_norm_forward_eval_cuda;
CudaKernel<BatchNormTrainBwdFn> batch_norm_backward_train_cuda;
CudaKernel<BatchNormEvalBwdFn> batch_norm_backward_eval_cuda;
// -- conv2d, depthwise, linear, pooling kernels --
CudaKernel<Conv2dFwdFn> conv2d_forward_cuda;  // cuda/conv2d.cu
CudaKernel<Conv2dBwdInputFn> conv2d_backward_input_cuda;
CudaKernel<Conv2dBwdWeightFn> conv2d_backward_weight_cuda;
CudaKernel<Conv2dBwdBiasFn> conv2d_backward_bias_cuda;
CudaKernel<Conv2dFwdFn> depthwise_conv2d_forward_cuda;  // cuda/conv2d_depthwise.cu
CudaKernel<Conv2dBwdInputFn> depthwise_conv2d_backward_input_cuda;
CudaKernel<Conv2dBwdWeightFn> depthwise_conv2d_backward_weight_cuda;
CudaKernel<GemmFn> gemm_cuda;  // cuda/linear.cu
CudaKernel<BiasRowsFn> bias_rows_cuda;
CudaKernel<SumRowsFn> sum_rows_cuda;
CudaKernel<MaxPoolFwdFn> max_pool2d_forward_cuda;  // cuda/pool.cu
CudaKernel<MaxPoolBwdFn> max_pool2d_backward_cuda;
CudaKernel<PoolFwdFn> avg_pool2d_forward_cuda;
CudaKernel<PoolBwdFn> avg_pool2d_backward_cuda;
CudaKernel<PoolFwdFn> adaptive_avg_pool2d_forward_cuda;
CudaKernel<PoolBwdFn> adaptive_avg_pool2d_backward_cuda;
CudaKernel<PoolFwdFn> global_avg_pool2d_forward_cuda;
CudaKernel<PoolBwdFn> global_avg_pool2d_backward_cuda;
// -- quantization kernels --
CudaKernel<FakeQuantFwdFn> fake_quant_forward_cuda;  // cuda/fake_quant.cu
CudaKernel<FakeQuantBwdFn> fake_quant_backward_cuda;
CudaKernel<QuantErrorSumsFn> quant_error_sums_cuda;  // cuda/lp_error.cu
CudaKernel<AdaRoundFwdFn> adaround_forward_cuda;  // cuda/soft_round.cu
CudaKernel<AdaRoundBwdFn> adaround_backward_cuda;
CudaKernel<AdaRoundHFwdFn> adaround_h_forward_cuda;
CudaKernel<AdaRoundHBwdFn> adaround_h_backward_cuda;
CudaKernel<AdaRoundRegFwdFn> adaround_reg_forward_cuda;
CudaKernel<AdaRoundRegBwdFn> adaround_reg_backward_cuda;
CudaKernel<HardRoundAdaRoundFn> hard_round_adaround_cuda;
CudaKernel<ASoftmaxFwdFn> asoftmax_forward_cuda;
CudaKernel<ASoftmaxBwdFn> asoftmax_backward_cuda;
CudaKernel<ASoftmaxInitFn> asoftmax_init_cuda;
CudaKernel<HardRoundASoftmaxFn> hard_round_asoftmax_cuda;
CudaKernel<QDropFwdFn> qdrop_forward_cuda;  // cuda/mix.cu
CudaKernel<QDropBwdFn> qdrop_backward_cuda;
CudaKernel<MixFwdFn> mix_forward_cuda;
CudaKernel<MixBwdFn> mix_backward_cuda;

static void register_cuda_kernels() {
  relu_forward_kernel.cuda_f32 = relu_forward_cuda;
  relu_backward_kernel.cuda_f32 = relu_backward_cuda;
  sgd_step_kernel.cuda_f32 = sgd_step_cuda;
  adam_step_kernel.cuda_f32 = adam_step_cuda;
  // -- elementwise, reduce, shape, loss, batch_norm kernels --
  binary_forward_kernel.cuda_f32 = binary_forward_cuda;
  expand_kernel.cuda_f32 = expand_cuda;
  unary_forward_kernel.cuda_f32 = unary_forward_cuda;
  unary_backward_kernel.cuda_f32 = unary_backward_cuda;
  where_forward_kernel.cuda_f32 = where_forward_cuda;
  where_backward_kernel.cuda_f32 = where_backward_cuda;
  greater_kernel.cuda_f32 = greater_cuda;
  sum_kernel.cuda_f32 = sum_cuda;
  slab_copy_kernel.cuda_f32 = slab_copy_cuda;
  subsample_forward_kernel.cuda_f32 = subsample_forward_cuda;
  subsample_backward_kernel.cuda_f32 = subsample_backward_cuda;
  log_softmax_forward_kernel.cuda_f32 = log_softmax_forward_cuda;
  log_softmax_backward_kernel.cuda_f32 = log_softmax_backward_cuda;
  cross_entropy_forward_kernel.cuda_f32 = cross_entropy_forward_cuda;
  cross_entropy_backward_kernel.cuda_f32 = cross_entropy_backward_cuda;
  mse_loss_forward_kernel.cuda_f32 = mse_loss_forward_cuda;
  mse_loss_backward_kernel.cuda_f32 = mse_loss_backward_cuda;
  batch_norm_forward_train_kernel.cuda_f32 = batch_norm_forward_train_cuda;
  batch_norm_forward_eval_kernel.cuda_f32 = batch_norm_forward_eval_cuda;
  batch_norm_backward_train_kernel.cuda_f32 = batch_norm_backward_train_cuda;
  batch_norm_backward_eval_kernel.cuda_f32 = batch_norm_backward_eval_cuda;
  // -- conv2d, depthwise, linear, pooling kernels --
  conv2d_forward_kernel.cuda_f32 = conv2d_forward_cuda;
  conv2d_backward_input_kernel.cuda_f32 = conv2d_backward_input_cuda;
  conv2d_backward_weight_kernel.cuda_f32 = conv2d_backward_weight_cuda;
  conv2d_backward_bias_kernel.cuda_f32 = conv2d_backward_bias_cuda;
  depthwise_conv2d_forward_kernel.cuda_f32 = depthwise_conv2d_forward_cuda;
  depthwise_conv2d_backward_input_kernel.cuda_f32 = depthwise_conv2d_backward_input_cuda;
  depthwise_conv2d_backward_weight_kernel.cuda_f32 = depthwise_conv2d_backward_weight_cuda;
  gemm_kernel.cuda_f32 = gemm_cuda;
  bias_rows_kernel.cuda_f32 = bias_rows_cuda;
  sum_rows_kernel.cuda_f32 = sum_rows_cuda;
  max_pool2d_forward_kernel.cuda_f32 = max_pool2d_forward_cuda;
  max_pool2d_backward_kernel.cuda_f32 = max_pool2d_backward_cuda;
  avg_pool2d_forward_kernel.cuda_f32 = avg_pool2d_forward_cuda;
  avg_pool2d_backward_kernel.cuda_f32 = avg_pool2d_backward_cuda;
  adaptive_avg_pool2d_forward_kernel.cuda_f32 = adaptive_avg_pool2d_forward_cuda;
  adaptive_avg_pool2d_backward_kernel.cuda_f32 = adaptive_avg_pool2d_backward_cuda;
  global_avg_pool2d_forward_kernel.cuda_f32 = global_avg_pool2d_forward_cuda;
  global_avg_pool2d_backward_kernel.cuda_f32 = global_avg_pool2d_backward_cuda;
  // -- quantization kernels --
  fake_quant_forward_kernel.cuda_f32 = fake_quant_forward_cuda;
  fake_quant_backward_kernel.cuda_f32 = fake_quant_backward_cuda;
  quant_error_sums_kernel.cuda_f32 = quant_error_sums_cuda;
  adaround_forward_kernel.cuda_f32 = adaround_forward_cuda;
  adaround_backward_kernel.cuda_f32 = adaround_backward_cuda;
  adaround_h_forward_kernel.cuda_f32 = adaround_h_forward_cuda;
  adaround_h_backward_kernel.cuda_f32 = adaround_h_backward_cuda;
  adaround_reg_forward_kernel.cuda_f32 = adaround_reg_forward_cuda;
  adaround_reg_backward_kernel.cuda_f32 = adaround_reg_backward_cuda;
  hard_round_adaround_kernel.cuda_f32 = hard_round_adaround_cuda;
  asoftmax_forward_kernel.cuda_f32 = asoftmax_forward_cuda;
  asoftmax_backward_kernel.cuda_f32 = asoftmax_backward_cuda;
  asoftmax_init_kernel.cuda_f32 = asoftmax_init_cuda;
  hard_round_asoftmax_kernel.cuda_f32 = hard_round_asoftmax_cuda;
  qdrop_forward_kernel.cuda_f32 = qdrop_forward_cuda;
  qdrop_backward_kernel.cuda_f32 = qdrop_backward_cuda;
  mix_forward_kernel.cuda_f32 = mix_forward_cuda;
  mix_backward_kernel.cuda_f32 = mix_backward_cuda;
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
