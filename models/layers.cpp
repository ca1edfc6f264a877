// Layers with parameters: Conv2d, Linear, BatchNorm2d. Each checks its hyper-parameters,
// allocates and registers its tensors in torch's order, and forwards to one op.
#include "models/layers.h"

#include "ops/batch_norm.h"
#include "ops/linear.h"

namespace nwq {

// ---------------------------------------------------------------- Conv2d

Conv2d::Conv2d(int in_channels, int out_channels, const Conv2dOptions& options)
    : in_channels_(in_channels), out_channels_(out_channels), kernel_(options.kernel()) {
  const Size2 kernel = options.kernel(), stride = options.stride(), padding = options.padding(),
              dilation = options.dilation();
  const int groups = options.groups();
  NWQ_CHECK(in_channels > 0 && out_channels > 0 && groups > 0 && in_channels % groups == 0 &&
                out_channels % groups == 0,
            "Conv2d: channels ", in_channels, " -> ", out_channels, " with groups ", groups,
            ": channels must be positive multiples of groups");
  NWQ_CHECK(kernel.h > 0 && kernel.w > 0 && stride.h > 0 && stride.w > 0 && padding.h >= 0 &&
                padding.w >= 0 && dilation.h > 0 && dilation.w > 0,
            "Conv2d: invalid kernel ", kernel.h, "x", kernel.w, ", stride ", stride.h, "x",
            stride.w, ", padding ", padding.h, "x", padding.w, " or dilation ", dilation.h, "x",
            dilation.w);
  params_.stride_h = stride.h;
  params_.stride_w = stride.w;
  params_.pad_h = padding.h;
  params_.pad_w = padding.w;
  params_.dilation_h = dilation.h;
  params_.dilation_w = dilation.w;
  params_.groups = groups;
  weight = Tensor::zeros({out_channels, in_channels / groups, kernel.h, kernel.w});
  if (options.bias()) bias = Tensor::zeros({out_channels});
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
}

Tensor Conv2d::forward(const Tensor& x) { return conv2d(x, weight, bias, params_); }

std::string Conv2d::extra_repr() const {
  const Conv2dParams& p = params_;
  std::string out = str(in_channels_, ", ", out_channels_, ", kernel=", kernel_.h, "x", kernel_.w,
                        ", stride=", p.stride_h, "x", p.stride_w);
  if (p.pad_h || p.pad_w) out += str(", padding=", p.pad_h, "x", p.pad_w);
  if (p.dilation_h != 1 || p.dilation_w != 1) {
    out += str(", dilation=", p.dilation_h, "x", p.dilation_w);
  }
  if (p.groups != 1) out += str(", groups=", p.groups);
  return out + (bias.defined() ? "" : ", bias=false");
}

// ---------------------------------------------------------------- Linear

Linear::Linear(int in_features, int out_features, bool bias)
    : in_features_(in_features), out_features_(out_features) {
  NWQ_CHECK(in_features > 0 && out_features > 0, "Linear: invalid sizes ", in_features, " -> ",
            out_features);
  weight = Tensor::zeros({out_features, in_features});
  if (bias) this->bias = Tensor::zeros({out_features});
  register_parameter("weight", &weight);
  register_parameter("bias", &this->bias);
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

std::string Linear::extra_repr() const {
  return str(in_features_, ", ", out_features_, bias.defined() ? "" : ", bias=false");
}

// ---------------------------------------------------------------- BatchNorm2d

BatchNorm2d::BatchNorm2d(int num_features, double eps, double momentum)
    : num_features_(num_features), eps_(eps), momentum_(momentum) {
  NWQ_CHECK(num_features > 0 && eps > 0 && momentum >= 0 && momentum <= 1,
            "BatchNorm2d: invalid num_features ", num_features, ", eps ", eps, " or momentum ",
            momentum);
  weight = Tensor::ones({num_features});
  bias = Tensor::zeros({num_features});
  running_mean = Tensor::zeros({num_features});
  running_var = Tensor::ones({num_features});
  num_batches_tracked = Tensor::scalar(0, DType::I64);
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
  register_buffer("running_mean", &running_mean);
  register_buffer("running_var", &running_var);
  register_buffer("num_batches_tracked", &num_batches_tracked);
}

void BatchNorm2d::set_momentum(double momentum) {
  NWQ_CHECK(momentum >= 0 && momentum <= 1, "BatchNorm2d: momentum must be in [0, 1], got ",
            momentum);
  momentum_ = momentum;
}

void BatchNorm2d::reset() {
  Device device = weight.device();
  weight.copy_(Tensor::ones({num_features_}, DType::F32, device));
  bias.copy_(Tensor::zeros({num_features_}, DType::F32, device));
  running_mean.copy_(Tensor::zeros({num_features_}, DType::F32, device));
  running_var.copy_(Tensor::ones({num_features_}, DType::F32, device));
  num_batches_tracked.copy_(Tensor::scalar(0, DType::I64));
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  NWQ_CHECK((x.dim() == 2 || x.dim() == 4) && x.size(1) == num_features_, "BatchNorm2d(",
            num_features_, "): expected (N, ", num_features_, ") or (N, ", num_features_,
            ", H, W) input, got ", x.describe());
  Tensor y = batch_norm(x, weight, bias, running_mean, running_var, is_training(), momentum_,
                        eps_);
  if (is_training()) {
    // The counter is a host-side int; a CUDA buffer makes one small round trip per call.
    int64_t count = static_cast<int64_t>(num_batches_tracked.item()) + 1;
    num_batches_tracked.copy_(Tensor::scalar(static_cast<double>(count), DType::I64));
  }
  return y;
}

std::string BatchNorm2d::extra_repr() const {
  return str(num_features_, ", eps=", eps_, ", momentum=", momentum_);
}

}  // namespace nwq
