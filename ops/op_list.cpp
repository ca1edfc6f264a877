// The list of every kernel slot, so that tests can check each has a CUDA kernel.
// Adding an op means adding its slots here (docs/DESIGN.md section 3).
#include "ops/dispatch.h"
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

template <template <class> class Fn>
static KernelSlotInfo info(const KernelSlot<Fn>& slot) {
  return {slot.name, slot.cpu_f32 != nullptr, slot.cpu_f64 != nullptr, slot.cuda_f32 != nullptr};
}

std::vector<KernelSlotInfo> all_kernel_slots() {
  return {
      info(relu_forward_kernel),
      info(relu_backward_kernel),
      info(batch_norm_forward_train_kernel),
      info(batch_norm_forward_eval_kernel),
      info(batch_norm_backward_train_kernel),
      info(batch_norm_backward_eval_kernel),
      info(conv2d_forward_kernel),
      info(conv2d_backward_input_kernel),
      info(conv2d_backward_weight_kernel),
      info(conv2d_backward_bias_kernel),
      info(depthwise_conv2d_forward_kernel),
      info(depthwise_conv2d_backward_input_kernel),
      info(depthwise_conv2d_backward_weight_kernel),
      info(binary_forward_kernel),
      info(expand_kernel),
      info(unary_forward_kernel),
      info(unary_backward_kernel),
      info(where_forward_kernel),
      info(where_backward_kernel),
      info(greater_kernel),
      info(gemm_kernel),
      info(bias_rows_kernel),
      info(sum_rows_kernel),
      info(log_softmax_forward_kernel),
      info(log_softmax_backward_kernel),
      info(cross_entropy_forward_kernel),
      info(cross_entropy_backward_kernel),
      info(mse_loss_forward_kernel),
      info(mse_loss_backward_kernel),
      info(max_pool2d_forward_kernel),
      info(max_pool2d_backward_kernel),
      info(avg_pool2d_forward_kernel),
      info(avg_pool2d_backward_kernel),
      info(adaptive_avg_pool2d_forward_kernel),
      info(adaptive_avg_pool2d_backward_kernel),
      info(global_avg_pool2d_forward_kernel),
      info(global_avg_pool2d_backward_kernel),
      info(sum_kernel),
      info(slab_copy_kernel),
      info(subsample_forward_kernel),
      info(subsample_backward_kernel),
      info(sgd_step_kernel),
      info(adam_step_kernel),
      info(fake_quant_forward_kernel),
      info(fake_quant_backward_kernel),
      info(quant_error_sums_kernel),
      info(adaround_forward_kernel),
      info(adaround_backward_kernel),
      info(adaround_h_forward_kernel),
      info(adaround_h_backward_kernel),
      info(adaround_reg_forward_kernel),
      info(adaround_reg_backward_kernel),
      info(hard_round_adaround_kernel),
      info(asoftmax_forward_kernel),
      info(asoftmax_backward_kernel),
      info(asoftmax_init_kernel),
      info(hard_round_asoftmax_kernel),
      info(qdrop_forward_kernel),
      info(qdrop_backward_kernel),
      info(mix_forward_kernel),
      info(mix_backward_kernel),
  };
}

}  // namespace nwq
