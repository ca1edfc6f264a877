// A CIFAR ResNet cut down for the quantization tests: fast enough that a test can run whole
// reconstructions many times (tests/test_quant_reconstruct.cpp, test_quant_resume_plan.cpp).
#pragma once
#include <memory>

#include "core/rng.h"
#include "models/init.h"
#include "models/layers.h"
#include "models/resnet_cifar.h"
#include "ops/pool.h"
#include "ops/shape.h"
#include "quant/quant_model.h"
#include "tests/quant_test_util.h"

namespace nwq::test {

// A CIFAR ResNet cut down for speed (the Lp weight search dominates calibration): a 1->8 conv
// stem with BN and ReLU, basic blocks 8->8 and 8->16 (stride 2, option-A shortcut), pooling and
// a linear head. Blocks stem, layer1.0, layer2.0, head; 6 layers, 5 activation quantizers.
class TinyResNet : public Model {
 public:
  explicit TinyResNet(uint64_t seed) {
    Rng rng(seed);
    conv1 = std::make_shared<Conv2d>(1, 8, Conv2dOptions(3).padding(1).bias(false));
    bn1 = std::make_shared<BatchNorm2d>(8);
    relu = std::make_shared<ReLU>();
    layer1 = std::make_shared<Sequential>(
        std::vector<ModulePtr>{std::make_shared<CifarBasicBlock>(8, 8, 1)});
    layer2 = std::make_shared<Sequential>(
        std::vector<ModulePtr>{std::make_shared<CifarBasicBlock>(8, 16, 2)});
    linear = std::make_shared<Linear>(16, 10);
    register_module("conv1", &conv1);
    register_module("bn1", &bn1);
    register_module("relu", &relu);
    register_module("layer1", &layer1);
    register_module("layer2", &layer2);
    register_module("linear", &linear);
    for (auto& [name, m] : named_modules()) {
      if (auto* conv = dynamic_cast<Conv2d*>(m)) kaiming_normal_(conv->weight, rng);
      if (auto* lin = dynamic_cast<Linear*>(m)) reset_linear(*lin, rng);
      if (auto* bn = dynamic_cast<BatchNorm2d*>(m)) randomize_bn(*bn, rng);
    }
  }
  std::vector<Block> blocks() override {
    return {{"stem",
             [this](const Tensor& x) { return relu->forward(bn1->forward(conv1->forward(x))); }},
            {"layer1.0", [this](const Tensor& x) { return find("layer1.0")->forward(x); }},
            {"layer2.0", [this](const Tensor& x) { return find("layer2.0")->forward(x); }},
            {"head", [this](const Tensor& x) {
               return linear->forward(flatten(global_avg_pool2d(x), 1));
             }}};
  }
  ModulePtr conv1, bn1, relu, layer1, layer2, linear;
};

inline std::shared_ptr<QuantModel> prepare_tiny(const QuantConfig& config, const Tensor& sample) {
  return std::make_shared<QuantModel>(std::make_shared<TinyResNet>(3), sample, config);
}

}  // namespace nwq::test
