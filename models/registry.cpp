// The model table (see models/registry.h). One row per model.
#include "models/registry.h"

#include "models/mnasnet.h"
#include "models/mobilenet_v2.h"
#include "models/regnet.h"
#include "models/resnet.h"
#include "models/resnet_cifar.h"

namespace nwq {

namespace {

// A factory for a CIFAR ResNet of the given depth.
std::function<ModelPtr(int, int, Rng&)> cifar_resnet(int depth) {
  return [depth](int num_classes, int in_channels, Rng& rng) -> ModelPtr {
    return std::make_shared<CifarResNet>(depth, in_channels, num_classes, rng);
  };
}

}  // namespace

const std::vector<ModelEntry>& model_table() {
  static const std::vector<ModelEntry> table = {
      {"resnet20", "CIFAR ResNet-20 (He et al. 2016, option-A shortcut), 0.27M params",
       cifar_resnet(20)},
      {"resnet32", "CIFAR ResNet-32 (He et al. 2016, option-A shortcut), 0.46M params",
       cifar_resnet(32)},
      {"resnet44", "CIFAR ResNet-44 (He et al. 2016, option-A shortcut), 0.66M params",
       cifar_resnet(44)},
      {"resnet56", "CIFAR ResNet-56 (He et al. 2016, option-A shortcut), 0.85M params",
       cifar_resnet(56)},
      {"resnet18", "torchvision ResNet-18 (7x7/2 conv + 3x3/2 max-pool stem), 11.7M params",
       resnet18},
      {"resnet34", "torchvision ResNet-34 (ImageNet stem), 21.8M params", resnet34},
      {"resnet50", "torchvision ResNet-50 (Bottleneck v1.5, ImageNet stem), 25.6M params",
       resnet50},
      {"resnet18_cifar", "ResNet-18 with torchvision names, 3x3/1 stem and no max-pool (32x32 in)",
       resnet18_cifar},
      {"mobilenet_v2", "torchvision MobileNetV2 (width 1.0, ReLU6, dropout 0.2), 3.5M params",
       mobilenet_v2},
      {"mobilenetv2_cifar", "MobileNetV2 with torchvision names, stem and 24-channel stage at "
       "stride 1 (32x32 in -> 4x4)", mobilenetv2_cifar},
      {"regnet_x_600mf", "RegNetX-600MF (pycls parameters in torchvision's RegNet, grouped 3x3 "
       "convs), 6.2M params", regnet_x_600mf},
      {"regnet_x_3_2gf", "torchvision RegNetX-3.2GF (grouped 3x3 convs), 15.3M params",
       regnet_x_3_2gf},
      {"mnasnet1_0", "torchvision MNASNet (width 1.0, ReLU, dropout 0.2), 4.4M params",
       mnasnet1_0},
      {"mnasnet2_0", "torchvision MNASNet(alpha=2.0) (QDrop's MNasx2), 12.5M params", mnasnet2_0},
      {"regnet_x_600mf_cifar", "RegNetX-600MF with stem and block1 at stride 1 (32x32 in -> "
       "4x4)", regnet_x_600mf_cifar},
      {"mnasnet1_0_cifar", "MNASNet 1.0 with stem and 24-channel stack at stride 1 (32x32 in "
       "-> 4x4)", mnasnet1_0_cifar},
  };
  return table;
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const ModelEntry& e : model_table()) names.push_back(e.name);
  return names;
}

ModelPtr create_model(const std::string& name, int num_classes, int in_channels, uint64_t seed) {
  NWQ_CHECK(num_classes > 0 && in_channels > 0, "create_model(", name, "): invalid num_classes ",
            num_classes, " or in_channels ", in_channels);
  for (const ModelEntry& e : model_table()) {
    if (e.name != name) continue;
    Rng rng(seed);
    return e.create(num_classes, in_channels, rng);
  }
  std::string known;
  for (const std::string& n : model_names()) known += (known.empty() ? "" : ", ") + n;
  throw Error(str("unknown model '", name, "'; known models: ", known));
}

}  // namespace nwq
