// CIFAR-style ResNet-20/32/44/56 (He et al. 2016, section 4.2): a 3x3 stem with 16 channels,
// three stages of n BasicBlocks (16, 32, 64 channels; n = (depth - 2) / 6), global average pool
// and a linear head. Option-A shortcuts (stride-2 subsample + zero channel padding) have no
// parameters. Names follow akamaster/pytorch_resnet_cifar10: conv1, bn1, layer{1,2,3}.{i}.
// {conv1,bn1,conv2,bn2}, linear. The ReLUs are registered modules (relu, relu1, relu2) so that
// quantization can replace them; relu2 runs after the residual add.
#pragma once
#include "models/layers.h"

namespace nwq {

// x[:, :, ::stride, ::stride] with `pad` zero channels added before and after.
class ShortcutA : public Module {
 public:
  ShortcutA(int stride, int pad);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ShortcutA"; }
  std::string extra_repr() const override;
  int stride() const { return stride_; }
  int pad() const { return pad_; }

 private:
  int stride_, pad_;
};

// relu2(bn2(conv2(relu1(bn1(conv1(x))))) + shortcut(x)); shortcut is Identity or ShortcutA.
class CifarBasicBlock : public Module {
 public:
  CifarBasicBlock(int in_planes, int planes, int stride);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "BasicBlock"; }

  ModulePtr conv1, bn1, relu1, conv2, bn2, shortcut, relu2;
};

class CifarResNet : public Model {
 public:
  // depth = 6n + 2 (20, 32, 44, 56, 110 ...). Weights: conv and linear kaiming_normal_ (fan in,
  // ReLU gain) as the reimplementation does; linear bias and BN as torch's defaults.
  CifarResNet(int depth, int in_channels, int num_classes, Rng& rng);
  // "stem", "layer1.0", ..., "layer3.<n-1>", "head".
  std::vector<Block> blocks() override;
  std::string type_name() const override { return "CifarResNet"; }
  std::string extra_repr() const override;

  int depth() const { return depth_; }
  int in_channels() const { return in_channels_; }
  int num_classes() const { return num_classes_; }

  ModulePtr conv1, bn1, relu, layer1, layer2, layer3, linear;

 private:
  int depth_, in_channels_, num_classes_;
};

}  // namespace nwq
