// torchvision's ImageNet ResNet (He et al. 2015; "v1.5": a Bottleneck strides on its 3x3 conv):
// BasicBlock, Bottleneck, resnet18/34/50, and resnet18_cifar (3x3 stride-1 stem, no max-pool).
// Module names, order, shapes and init follow torchvision, so its state_dicts load as they are.
#pragma once
#include <vector>

#include "models/layers.h"

namespace nwq {

// relu(bn2(conv2(relu(bn1(conv1(x))))) + identity), identity = downsample(x) when present.
// conv1 is 3x3 with the block's stride, conv2 3x3 stride 1. As in torchvision, ONE registered
// `relu` module runs twice: after bn1 and after the residual add (replace_child on
// "layerX.Y.relu" changes both places).
class BasicBlock : public Module {
 public:
  static constexpr int expansion = 1;
  // downsample may be null (then the block has no `downsample` child, as in torchvision).
  BasicBlock(int inplanes, int planes, int stride, ModulePtr downsample);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "BasicBlock"; }

  ModulePtr conv1, bn1, relu, conv2, bn2, downsample;
};

// relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + identity): 1x1 reduce to `planes`,
// 3x3 with the block's stride, 1x1 expand to 4 * planes. One `relu` module runs three times.
// Registration order is torchvision's: conv1, bn1, conv2, bn2, conv3, bn3, relu, downsample.
class Bottleneck : public Module {
 public:
  static constexpr int expansion = 4;
  Bottleneck(int inplanes, int planes, int stride, ModulePtr downsample);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Bottleneck"; }

  ModulePtr conv1, bn1, conv2, bn2, conv3, bn3, relu, downsample;
};

enum class ResNetBlockKind { Basic, Bottleneck };

struct ResNetConfig {
  ResNetBlockKind block = ResNetBlockKind::Basic;
  std::vector<int> layers = {2, 2, 2, 2};  // blocks per stage (layer1..layer4)
  int in_channels = 3;
  int num_classes = 1000;
  // false: torchvision's stem, conv1 7x7 stride 2 pad 3 + maxpool 3x3 stride 2 pad 1 (224 -> 56).
  // true: the usual CIFAR stem, conv1 3x3 stride 1 pad 1 and `maxpool` an Identity (32 -> 32),
  // so names and parameter shapes other than conv1.weight are unchanged.
  bool cifar_stem = false;
};

// conv1, bn1, relu, maxpool, layer1..layer4 (Sequentials of blocks "0", "1", ...), avgpool
// (AdaptiveAvgPool2d 1x1), fc. The first block of layer2..4 strides by 2; a block gets
// downsample = Sequential(conv1x1 with its stride, BatchNorm2d) when stride != 1 or its channel
// count changes. Init (torchvision): conv weights kaiming_normal_ (fan out, ReLU gain); BN weight
// 1, bias 0; fc torch's Linear default.
NamedTensors normalize_resnet_names(const NamedTensors& state);  // defined below the class

class ResNet : public Model {
 public:
  NamedTensors normalize_checkpoint(const NamedTensors& state) const override {
    return normalize_resnet_names(state);
  }
  ResNet(const ResNetConfig& config, Rng& rng);
  // "stem" (conv1, bn1, relu, maxpool), "layer1.0", ..., "layer4.<n-1>", "head" (avgpool,
  // flatten, fc).
  std::vector<Block> blocks() override;
  std::string type_name() const override { return "ResNet"; }
  std::string extra_repr() const override;
  const ResNetConfig& config() const { return config_; }

  ModulePtr conv1, bn1, relu, maxpool, layer1, layer2, layer3, layer4, avgpool, fc;

 private:
  ResNetConfig config_;
};

// The torchvision configurations (parameters with 1000 classes: 11,689,512, 21,797,672 and
// 25,557,032). resnet18_cifar: resnet18 with cifar_stem (11,173,962 with 10 classes).
ModelPtr resnet18(int num_classes, int in_channels, Rng& rng);
ModelPtr resnet34(int num_classes, int in_channels, Rng& rng);
ModelPtr resnet50(int num_classes, int in_channels, Rng& rng);
ModelPtr resnet18_cifar(int num_classes, int in_channels, Rng& rng);

// Maps the ResNet checkpoints people have to torchvision's names, so that load_state_dict
// accepts them (see models/checkpoint_names.h for the rules):
// - torchvision and timm `resnet*` state_dicts already use these names (timm's act1/act2/aa/
//   drop_block modules have no parameters, so they never appear in a state_dict);
// - a `module.` (DataParallel/DDP), `model.` (Lightning and friends) or `_orig_mod.`
//   (torch.compile) prefix on every key is removed;
// - a BatchNorm without `num_batches_tracked` (files saved before torch 0.4.1, such as
//   torchvision's original resnet18-5c106cde.pth) gets a zero counter, as torch does on load.
NamedTensors normalize_resnet_names(const NamedTensors& state);

}  // namespace nwq
