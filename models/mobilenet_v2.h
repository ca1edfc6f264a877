// torchvision's MobileNetV2 (Sandler et al. 2018; width 1.0, ReLU6, dropout 0.2) and
// mobilenetv2_cifar, its 32x32 variant. Module names, order, shapes and init follow torchvision
// (`features.0.0.weight`, `features.3.conv.1.1.weight`, `classifier.1.weight`).
#pragma once
#include <vector>

#include "models/layers.h"

namespace nwq {

// torchvision's Conv2dNormActivation: Sequential(Conv2d (no bias, padding (k-1)/2), BatchNorm2d,
// ReLU6), so its children are named "0", "1", "2".
ModulePtr conv_bn_relu6(int in_channels, int out_channels, int kernel, int stride, int groups);

// `conv` is a Sequential: with expansion (t != 1) "0" 1x1 conv_bn_relu6 to hidden = in * t,
// "1" 3x3 depthwise conv_bn_relu6 with the stride, "2" 1x1 Conv2d to out, "3" BatchNorm2d;
// without expansion (t == 1) the same minus the first: "0" depthwise, "1" Conv2d, "2" BN.
// forward: x + conv(x) when stride is 1 and in == out (use_res_connect), else conv(x).
class InvertedResidual : public Module {
 public:
  InvertedResidual(int in_channels, int out_channels, int stride, int expand_ratio);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "InvertedResidual"; }
  std::string extra_repr() const override;
  bool use_res_connect() const { return use_res_connect_; }

  ModulePtr conv;

 private:
  int in_channels_, out_channels_, stride_, expand_ratio_;
  bool use_res_connect_;
};

struct MobileNetV2Config {
  int in_channels = 3;
  int num_classes = 1000;
  double dropout = 0.2;
  // true: mobilenetv2_cifar. Two strides change from 2 to 1, the stem conv (features.0.0) and
  // the first block of the 24-channel stage (features.2.conv.1.0), so that 32x32 inputs keep
  // 32x32 through features.3 and reach 4x4 at features.14 (3 stride-2 steps remain: features.4,
  // .7, .14). ImageNet's 224x224 instead goes 112 (stem), 56, 28, 14, 7. Nothing else changes.
  bool cifar = false;
};

// features: Sequential of 19 modules: "0" conv_bn_relu6(in, 32, 3, stride 2), "1".."17"
// InvertedResiduals (t, c, n, s) = (1,16,1,1) (6,24,2,2) (6,32,3,2) (6,64,4,2) (6,96,3,1)
// (6,160,3,2) (6,320,1,1) (stride s on a stage's first block only), "18" conv_bn_relu6(320,
// 1280, 1). Then global average pool (a function call, as in torchvision: no module), flatten,
// classifier = Sequential("0" Dropout(0.2), "1" Linear(1280, classes)).
// Init (torchvision): conv weights kaiming_normal_ (fan out), BN (1, 0), Linear weight
// normal(0, 0.01) and bias 0.
NamedTensors normalize_mobilenet_v2_names(const NamedTensors& state);  // defined below the class

class MobileNetV2 : public Model {
 public:
  NamedTensors normalize_checkpoint(const NamedTensors& state) const override {
    return normalize_mobilenet_v2_names(state);
  }
  MobileNetV2(const MobileNetV2Config& config, Rng& rng);
  // "stem" (features.0), "features.1", ..., "features.17" (the inverted residuals),
  // "features.18" (the last 1x1 conv-BN-ReLU6, a unit of its own as in BRECQ/QDrop) and "head"
  // (global average pool, flatten, classifier).
  std::vector<Block> blocks() override;
  std::string type_name() const override { return "MobileNetV2"; }
  std::string extra_repr() const override;
  const MobileNetV2Config& config() const { return config_; }

  ModulePtr features, classifier;

 private:
  MobileNetV2Config config_;
};

// 3,504,872 parameters with 1000 classes; mobilenetv2_cifar has the same parameters (2,236,682
// with 10 classes).
ModelPtr mobilenet_v2(int num_classes, int in_channels, Rng& rng);
ModelPtr mobilenetv2_cifar(int num_classes, int in_channels, Rng& rng);

// Maps MobileNetV2 checkpoints to torchvision's names (see models/checkpoint_names.h): removes a
// wrapper prefix (`module.`, `model.`, `_orig_mod.`), adds missing BN counters, and renames
// timm's `mobilenetv2_100` keys (conv_stem, bn1, blocks.S.I.{conv_pw,bn1,conv_dw,bn2,conv_pwl,
// bn3}, blocks.0.0.{conv_dw,bn1,conv_pw,bn2}, conv_head, bn2, classifier) when it finds
// `conv_stem.weight`. torchvision names pass through unchanged.
NamedTensors normalize_mobilenet_v2_names(const NamedTensors& state);

}  // namespace nwq
