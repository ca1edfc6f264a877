// CIFAR ResNet (see models/resnet_cifar.h): option-A shortcut, basic block, the network and its
// reconstruction blocks.
#include "models/resnet_cifar.h"

#include "models/init.h"
#include "ops/elementwise.h"
#include "ops/pool.h"
#include "ops/shape.h"

namespace nwq {

// ---------------------------------------------------------------- shortcut and block

ShortcutA::ShortcutA(int stride, int pad) : stride_(stride), pad_(pad) {
  NWQ_CHECK(stride > 0 && pad >= 0, "ShortcutA: invalid stride ", stride, " or pad ", pad);
}

Tensor ShortcutA::forward(const Tensor& x) {
  Tensor y = stride_ == 1 ? x : subsample_spatial(x, stride_);
  return pad_ == 0 ? y : pad_channels(y, pad_, pad_);
}

std::string ShortcutA::extra_repr() const { return str("stride=", stride_, ", pad=", pad_); }

CifarBasicBlock::CifarBasicBlock(int in_planes, int planes, int stride) {
  conv1 = std::make_shared<Conv2d>(in_planes, planes,
                                   Conv2dOptions(3).stride(stride).padding(1).bias(false));
  bn1 = std::make_shared<BatchNorm2d>(planes);
  relu1 = std::make_shared<ReLU>();
  conv2 = std::make_shared<Conv2d>(planes, planes, Conv2dOptions(3).padding(1).bias(false));
  bn2 = std::make_shared<BatchNorm2d>(planes);
  if (stride != 1 || in_planes != planes) {
    NWQ_CHECK(planes == in_planes + 2 * (planes / 4), "CifarBasicBlock: option-A shortcut from ",
              in_planes, " to ", planes, " channels needs planes = 2 * in_planes");
    shortcut = std::make_shared<ShortcutA>(stride, planes / 4);
  } else {
    shortcut = std::make_shared<Identity>();
  }
  relu2 = std::make_shared<ReLU>();
  register_module("conv1", &conv1);
  register_module("bn1", &bn1);
  register_module("relu1", &relu1);
  register_module("conv2", &conv2);
  register_module("bn2", &bn2);
  register_module("shortcut", &shortcut);
  register_module("relu2", &relu2);
}

Tensor CifarBasicBlock::forward(const Tensor& x) {
  Tensor out = relu1->forward(bn1->forward(conv1->forward(x)));
  out = bn2->forward(conv2->forward(out));
  return relu2->forward(out + shortcut->forward(x));
}

// ---------------------------------------------------------------- the network

namespace {

ModulePtr make_stage(int& in_planes, int planes, int stride, int num_blocks) {
  auto stage = std::make_shared<Sequential>();
  for (int i = 0; i < num_blocks; ++i) {
    stage->push_back(std::make_shared<CifarBasicBlock>(in_planes, planes, i == 0 ? stride : 1));
    in_planes = planes;
  }
  return stage;
}

}  // namespace

CifarResNet::CifarResNet(int depth, int in_channels, int num_classes, Rng& rng)
    : depth_(depth), in_channels_(in_channels), num_classes_(num_classes) {
  NWQ_CHECK(depth >= 8 && (depth - 2) % 6 == 0, "CifarResNet: depth must be 6n + 2 (20, 32, 44, ",
            "56, ...), got ", depth);
  NWQ_CHECK(in_channels > 0 && num_classes > 0, "CifarResNet: invalid in_channels ", in_channels,
            " or num_classes ", num_classes);
  int n = (depth - 2) / 6, in_planes = 16;
  conv1 = std::make_shared<Conv2d>(in_channels, 16, Conv2dOptions(3).padding(1).bias(false));
  bn1 = std::make_shared<BatchNorm2d>(16);
  relu = std::make_shared<ReLU>();
  layer1 = make_stage(in_planes, 16, 1, n);
  layer2 = make_stage(in_planes, 32, 2, n);
  layer3 = make_stage(in_planes, 64, 2, n);
  linear = std::make_shared<Linear>(64, num_classes);
  register_module("conv1", &conv1);
  register_module("bn1", &bn1);
  register_module("relu", &relu);
  register_module("layer1", &layer1);
  register_module("layer2", &layer2);
  register_module("layer3", &layer3);
  register_module("linear", &linear);

  for (auto& [name, m] : named_modules()) {
    if (auto* conv = dynamic_cast<Conv2d*>(m)) {
      kaiming_normal_(conv->weight, rng);
    } else if (auto* lin = dynamic_cast<Linear*>(m)) {
      reset_linear(*lin, rng);  // torch's default bias
      kaiming_normal_(lin->weight, rng);
    }
  }
}

std::vector<Block> CifarResNet::blocks() {
  std::vector<Block> out;
  out.push_back({"stem", [this](const Tensor& x) {
                   return relu->forward(bn1->forward(conv1->forward(x)));
                 }});
  int n = (depth_ - 2) / 6;
  for (int stage = 1; stage <= 3; ++stage) {
    for (int i = 0; i < n; ++i) {
      std::string path = str("layer", stage, ".", i);
      out.push_back({path, [this, path](const Tensor& x) { return find(path)->forward(x); }});
    }
  }
  out.push_back({"head", [this](const Tensor& x) {
                   return linear->forward(flatten(global_avg_pool2d(x), 1));
                 }});
  return out;
}

std::string CifarResNet::extra_repr() const {
  return str("depth=", depth_, ", in_channels=", in_channels_, ", num_classes=", num_classes_);
}

}  // namespace nwq
