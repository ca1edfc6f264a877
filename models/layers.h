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

// A (height, width) pair; an int means the same value for both: Conv2d(3, 16, 3) is 3x3,
// Conv2d(3, 16, {3, 2}, {2, 1}, {1, 0}) a 3x2 kernel with stride (2, 1) and padding (1, 0).
struct Size2 {
  int h, w;
  Size2(int v) : h(v), w(v) {}  // NOLINT: implicit on purpose
  Size2(int h_, int w_) : h(h_), w(w_) {}
  bool operator==(const Size2& o) const { return h == o.h && w == o.w; }
};

// weight [out, in/groups, kh, kw]; bias [out] or undefined (bias = false).
class Conv2d : public Module {
 public:
  Conv2d(int in_channels, int out_channels, Size2 kernel, Size2 stride = 1, Size2 padding = 0,
         Size2 dilation = 1, int groups = 1, bool bias = true);
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

// Runs its children in order; they are named "0", "1", ... as in torch.nn.Sequential.
class Sequential : public Module {
 public:
  Sequential() = default;
  explicit Sequential(const std::vector<ModulePtr>& modules);
  Sequential& push_back(ModulePtr module);
  size_t size() const { return items_.size(); }
  // The module currently in slot i (replace_child("i", ...) is seen).
  ModulePtr operator[](size_t i) const;
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sequential"; }

 private:
  std::deque<ModulePtr> items_;  // a deque: push_back keeps registered slot addresses valid
};

}  // namespace nwq
