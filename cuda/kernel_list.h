// The one list of CUDA kernels: NWQ_CUDA_KERNEL(stem, function type) pairs the kernel slot
// `<stem>_kernel` (ops/<op>.cpp) with the CUDA function `<stem>_cuda` (cuda/<op>.cu).
// cuda/register.cu includes this file three times, with NWQ_CUDA_KERNEL defined differently each
// time: to declare the functions, to fill the slots, and to list the names for the tests.
// Adding an op: its header below, and one line per kernel in its group. No include guard.

// The headers declaring the slots and function types (read on the first inclusion only: each
// header has #pragma once).
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
#include "ops/adaround.h"
#include "ops/asoftmax.h"
#include "optim/optimizer.h"

// ---- activations and optimizer steps ----
NWQ_CUDA_KERNEL(relu_forward, ClampFwdFn)  // cuda/activation.cu
NWQ_CUDA_KERNEL(relu_backward, ClampBwdFn)
NWQ_CUDA_KERNEL(sgd_step, SgdStepFn)  // cuda/optimizer.cu
NWQ_CUDA_KERNEL(adam_step, AdamStepFn)
// ---- elementwise, reduce, shape, loss, batch_norm ----
NWQ_CUDA_KERNEL(binary_forward, BinaryFwdFn)  // cuda/elementwise_binary.cu
NWQ_CUDA_KERNEL(expand, ExpandFn)
NWQ_CUDA_KERNEL(unary_forward, UnaryFwdFn)  // cuda/elementwise_unary.cu
NWQ_CUDA_KERNEL(unary_backward, UnaryBwdFn)
NWQ_CUDA_KERNEL(where_forward, WhereFwdFn)
NWQ_CUDA_KERNEL(where_backward, WhereBwdFn)
NWQ_CUDA_KERNEL(greater, GreaterFn)
NWQ_CUDA_KERNEL(sum, SumFn)  // cuda/reduce.cu
NWQ_CUDA_KERNEL(slab_copy, SlabCopyFn)  // cuda/shape.cu
NWQ_CUDA_KERNEL(subsample_forward, SubsampleFwdFn)
NWQ_CUDA_KERNEL(subsample_backward, SubsampleBwdFn)
NWQ_CUDA_KERNEL(log_softmax_forward, LogSoftmaxFwdFn)  // cuda/loss.cu
NWQ_CUDA_KERNEL(log_softmax_backward, LogSoftmaxBwdFn)
NWQ_CUDA_KERNEL(cross_entropy_forward, CrossEntropyFwdFn)
NWQ_CUDA_KERNEL(cross_entropy_backward, CrossEntropyBwdFn)
NWQ_CUDA_KERNEL(mse_loss_forward, MseFwdFn)
NWQ_CUDA_KERNEL(mse_loss_backward, MseBwdFn)
NWQ_CUDA_KERNEL(batch_norm_forward_train, BatchNormTrainFwdFn)  // cuda/batch_norm.cu
NWQ_CUDA_KERNEL(batch_norm_forward_eval, BatchNormEvalFwdFn)
NWQ_CUDA_KERNEL(batch_norm_backward_train, BatchNormTrainBwdFn)
NWQ_CUDA_KERNEL(batch_norm_backward_eval, BatchNormEvalBwdFn)
// ---- conv2d, depthwise, linear, pooling ----
NWQ_CUDA_KERNEL(conv2d_forward, Conv2dFwdFn)  // cuda/conv2d.cu
NWQ_CUDA_KERNEL(conv2d_backward_input, Conv2dBwdInputFn)
NWQ_CUDA_KERNEL(conv2d_backward_weight, Conv2dBwdWeightFn)
NWQ_CUDA_KERNEL(conv2d_backward_bias, Conv2dBwdBiasFn)
NWQ_CUDA_KERNEL(depthwise_conv2d_forward, Conv2dFwdFn)  // cuda/conv2d_depthwise.cu
NWQ_CUDA_KERNEL(depthwise_conv2d_backward_input, Conv2dBwdInputFn)
NWQ_CUDA_KERNEL(depthwise_conv2d_backward_weight, Conv2dBwdWeightFn)
NWQ_CUDA_KERNEL(gemm, GemmFn)  // cuda/linear.cu
NWQ_CUDA_KERNEL(bias_rows, BiasRowsFn)
NWQ_CUDA_KERNEL(sum_rows, SumRowsFn)
NWQ_CUDA_KERNEL(max_pool2d_forward, MaxPoolFwdFn)  // cuda/pool.cu
NWQ_CUDA_KERNEL(max_pool2d_backward, MaxPoolBwdFn)
NWQ_CUDA_KERNEL(avg_pool2d_forward, PoolFwdFn)
NWQ_CUDA_KERNEL(avg_pool2d_backward, PoolBwdFn)
NWQ_CUDA_KERNEL(adaptive_avg_pool2d_forward, PoolFwdFn)
NWQ_CUDA_KERNEL(adaptive_avg_pool2d_backward, PoolBwdFn)
NWQ_CUDA_KERNEL(global_avg_pool2d_forward, PoolFwdFn)
NWQ_CUDA_KERNEL(global_avg_pool2d_backward, PoolBwdFn)
// ---- quantization ----
NWQ_CUDA_KERNEL(fake_quant_forward, FakeQuantFwdFn)  // cuda/fake_quant.cu
NWQ_CUDA_KERNEL(fake_quant_backward, FakeQuantBwdFn)
NWQ_CUDA_KERNEL(quant_error_sums, QuantErrorSumsFn)  // cuda/lp_error.cu
NWQ_CUDA_KERNEL(adaround_forward, AdaRoundFwdFn)  // cuda/adaround.cu
NWQ_CUDA_KERNEL(adaround_backward, AdaRoundBwdFn)
NWQ_CUDA_KERNEL(adaround_h_forward, AdaRoundHFwdFn)
NWQ_CUDA_KERNEL(adaround_h_backward, AdaRoundHBwdFn)
NWQ_CUDA_KERNEL(adaround_reg_forward, AdaRoundRegFwdFn)
NWQ_CUDA_KERNEL(adaround_reg_backward, AdaRoundRegBwdFn)
NWQ_CUDA_KERNEL(hard_round_adaround, HardRoundAdaRoundFn)
NWQ_CUDA_KERNEL(asoftmax_forward, ASoftmaxFwdFn)  // cuda/asoftmax.cu
NWQ_CUDA_KERNEL(asoftmax_backward, ASoftmaxBwdFn)
NWQ_CUDA_KERNEL(asoftmax_init, ASoftmaxInitFn)
NWQ_CUDA_KERNEL(hard_round_asoftmax, HardRoundASoftmaxFn)
NWQ_CUDA_KERNEL(qdrop_forward, QDropFwdFn)  // cuda/mix.cu
NWQ_CUDA_KERNEL(qdrop_backward, QDropBwdFn)
NWQ_CUDA_KERNEL(mix_forward, MixFwdFn)
NWQ_CUDA_KERNEL(mix_backward, MixBwdFn)
