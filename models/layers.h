// Layers: thin Module wrappers over ops (conv2d, batch_norm, linear, pooling, activations,
// dropout) plus Identity, Flatten and Sequential, named and registered as torch.nn does.
// Parameters are allocated by the constructors and initialised separately (models/init.h):
// Conv2d and Linear weights start at zero until reset_parameters() or a model's own init runs.
#pragma once
#include <deque>

#include "core/rng.h"
#include "models/module.h"
#include "ops/conv2d.h"
#include "ops/pool.h"

namespace nwq {

// A (height, width) pair; an int means the same value for both: 3 is 3x3, {3, 2} is 3x2.
struct Size2 {
  int h, w;
  Size2(int v) : h(v), w(v) {}  // NOLINT: implicit on purpose
  Size2(int h_, int w_) : h(h_), w(w_) {}
  bool operator==(const Size2& o) const { return h == o.h && w == o.w; }
};

// Conv2d's settings besides the channel counts, each named where a layer is built:
//   Conv2d(64, 128, Conv2dOptions(3).stride(2).padding(1).bias(false))
// Setters return the options, so they chain; what is not set keeps torch's default (stride 1,
// padding 0, dilation 1, groups 1, with bias). A kernel size alone converts to options:
// Conv2d(3, 16, 3) is a 3x3 conv with the defaults, Conv2d(3, 16, Size2(3, 2)) a 3x2 one.
class Conv2dOptions {
 public:
  Conv2dOptions(int kernel) : kernel_(kernel) {}    // NOLINT: implicit on purpose
  Conv2dOptions(Size2 kernel) : kernel_(kernel) {}  // NOLINT: implicit on purpose

  Conv2dOptions& stride(Size2 value) { stride_ = value; return *this; }
  Conv2dOptions& padding(Size2 value) { padding_ = value; return *this; }
  Conv2dOptions& dilation(Size2 value) { dilation_ = value; return *this; }
  Conv2dOptions& groups(int value) { groups_ = value; return *this; }
  Conv2dOptions& bias(bool value) { bias_ = value; return *this; }

  Size2 kernel() const { return kernel_; }
  Size2 stride() const { return stride_; }
  Size2 padding() const { return padding_; }
  Size2 dilation() const { return dilation_; }
  int groups() const { return groups_; }
  bool bias() const { return bias_; }

 private:
  Size2 kernel_, stride_ = 1, padding_ = 0, dilation_ = 1;
  int groups_ = 1;
  bool bias_ = true;
};

// weight [out, in/groups, kh, kw]; bias [out] or undefined (options.bias(false)).
class Conv2d : public Module {
 public:
  Conv2d(int in_channels, int out_channels, const Conv2dOptions& options);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Conv2d"; }
  std::string extra_repr() const override;

  int in_channels() const { return in_channels_; }
  int out_channels() const { return out_channels_; }
  Size2 kernel_size() const { return kernel_; }
  const Conv2dParams& params() const { return params_; }  // stride, padding, dilation, groups
  bool has_bias() const { return bias.defined(); }

  Tensor weight;
  Tensor bias;

 private:
  int in_channels_, out_channels_;
  Size2 kernel_;
  Conv2dParams params_;
};

// y = x w^T + b. weight [out, in]; bias [out] or undefined.
class Linear : public Module {
 public:
  Linear(int in_features, int out_features, bool bias = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Linear"; }
  std::string extra_repr() const override;

  int in_features() const { return in_features_; }
  int out_features() const { return out_features_; }
  bool has_bias() const { return bias.defined(); }

  Tensor weight;
  Tensor bias;

 private:
  int in_features_, out_features_;
};

// Batch norm over channels of (N, C, H, W) or (N, C) inputs. weight (1s) and bias (0s) [C];
// buffers running_mean (0s), running_var (1s) [C] and num_batches_tracked (I64 scalar), which
// forward increments in training mode while batch_norm updates the running stats.
class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int num_features, double eps = 1e-5, double momentum = 0.1);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "BatchNorm2d"; }
  std::string extra_repr() const override;

  int num_features() const { return num_features_; }
  double eps() const { return eps_; }
  double momentum() const { return momentum_; }
  // The running statistics' update weight (PyTorch's convention: new = (1 - m) old + m batch),
  // in [0, 1]; precise BN (train/precise_bn.h) sets 1 to read one batch's statistics.
  void set_momentum(double momentum);
  // Back to the constructor's values (weight 1, bias 0, mean 0, var 1, count 0).
  void reset();

  Tensor weight, bias;
  Tensor running_mean, running_var, num_batches_tracked;

 private:
  int num_features_;
  double eps_, momentum_;
};

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ReLU"; }
};

class ReLU6 : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ReLU6"; }
};

// stride 0 means "equal to the kernel", as in torch.
class MaxPool2d : public Module {
 public:
  MaxPool2d(Size2 kernel, Size2 stride = 0, Size2 padding = 0, bool ceil_mode = false);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "MaxPool2d"; }
  std::string extra_repr() const override;
  const Pool2dParams& params() const { return params_; }

 private:
  Pool2dParams params_;
};

class AvgPool2d : public Module {
 public:
  AvgPool2d(Size2 kernel, Size2 stride = 0, Size2 padding = 0, bool ceil_mode = false,
            bool count_include_pad = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "AvgPool2d"; }
  std::string extra_repr() const override;
  const Pool2dParams& params() const { return params_; }

 private:
  Pool2dParams params_;
};

// (N, C, H, W) -> (N, C, out_h, out_w), torch's adaptive bins.
class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(Size2 output = 1);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "AdaptiveAvgPool2d"; }
  std::string extra_repr() const override;
  Size2 output_size() const { return output_; }

 private:
  Size2 output_;
};

// Merges dims start_dim..last into one.
class Flatten : public Module {
 public:
  explicit Flatten(int start_dim = 1) : start_dim_(start_dim) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Flatten"; }
  int start_dim() const { return start_dim_; }

 private:
  int start_dim_;
};

// Inverted dropout in training mode, identity in eval mode. Owns its random stream.
class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5, uint64_t seed = 0);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dropout"; }
  std::string extra_repr() const override;
  double p() const { return p_; }
  void set_seed(uint64_t seed) { rng_ = Rng(seed); }

 private:
  double p_;
  Rng rng_;
};

class Identity : public Module {
 public:
  Tensor forward(const Tensor& x) override { return x; }
  std::string type_name() const override { return "Identity"; }
};

// Runs its children in order; they are named "0", "1", ... as in torch.nn.Sequential, or given
// names (torch's Sequential(OrderedDict(...)): RegNet's "block1", "block1-0", "a", "b", "c").
class Sequential : public Module {
 public:
  Sequential() = default;
  explicit Sequential(const std::vector<ModulePtr>& modules);
  Sequential& push_back(ModulePtr module);
  Sequential& push_back(const std::string& name, ModulePtr module);
  size_t size() const { return items_.size(); }
  // The module currently in slot i (replace_child("i", ...) is seen).
  ModulePtr operator[](size_t i) const;
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sequential"; }

 private:
  std::deque<ModulePtr> items_;  // a deque: push_back keeps registered slot addresses valid
};

}  // namespace nwq
