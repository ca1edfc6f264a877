// torchvision ResNet (see models/resnet.h): the two residual blocks, stage building, the network
// with its reconstruction blocks, the named configurations and checkpoint-name normalisation.
#include "models/resnet.h"

#include "models/checkpoint_names.h"
#include "models/init.h"
#include "ops/elementwise.h"
#include "ops/shape.h"

namespace nwq {

namespace {

ModulePtr conv3x3(int in_planes, int out_planes, int stride) {
  return std::make_shared<Conv2d>(in_planes, out_planes,
                                  Conv2dOptions(3).stride(stride).padding(1).bias(false));
}

ModulePtr conv1x1(int in_planes, int out_planes, int stride) {
  return std::make_shared<Conv2d>(in_planes, out_planes,
                                  Conv2dOptions(1).stride(stride).bias(false));
}

ModulePtr batch_norm(int channels) { return std::make_shared<BatchNorm2d>(channels); }

}  // namespace

// ---------------------------------------------------------------- blocks

BasicBlock::BasicBlock(int inplanes, int planes, int stride, ModulePtr downsample_module) {
  conv1 = conv3x3(inplanes, planes, stride);
  bn1 = batch_norm(planes);
  relu = std::make_shared<ReLU>();
  conv2 = conv3x3(planes, planes, 1);
  bn2 = batch_norm(planes);
  downsample = std::move(downsample_module);
  register_module("conv1", &conv1);
  register_module("bn1", &bn1);
  register_module("relu", &relu);
  register_module("conv2", &conv2);
  register_module("bn2", &bn2);
  if (downsample) register_module("downsample", &downsample);
}

Tensor BasicBlock::forward(const Tensor& x) {
  Tensor out = relu->forward(bn1->forward(conv1->forward(x)));
  out = bn2->forward(conv2->forward(out));
  Tensor identity = downsample ? downsample->forward(x) : x;
  return relu->forward(out + identity);
}

Bottleneck::Bottleneck(int inplanes, int planes, int stride, ModulePtr downsample_module) {
  int width = planes;  // torchvision: planes * (base_width / 64) * groups, with 64 and 1
  conv1 = conv1x1(inplanes, width, 1);
  bn1 = batch_norm(width);
  conv2 = conv3x3(width, width, stride);
  bn2 = batch_norm(width);
  conv3 = conv1x1(width, planes * expansion, 1);
  bn3 = batch_norm(planes * expansion);
  relu = std::make_shared<ReLU>();
  downsample = std::move(downsample_module);
  register_module("conv1", &conv1);
  register_module("bn1", &bn1);
  register_module("conv2", &conv2);
  register_module("bn2", &bn2);
  register_module("conv3", &conv3);
  register_module("bn3", &bn3);
  register_module("relu", &relu);
  if (downsample) register_module("downsample", &downsample);
}

Tensor Bottleneck::forward(const Tensor& x) {
  Tensor out = relu->forward(bn1->forward(conv1->forward(x)));
  out = relu->forward(bn2->forward(conv2->forward(out)));
  out = bn3->forward(conv3->forward(out));
  Tensor identity = downsample ? downsample->forward(x) : x;
  return relu->forward(out + identity);
}

// ---------------------------------------------------------------- the network

namespace {

// One stage (torchvision's _make_layer): `num_blocks` blocks, the first with `stride` and, when
// the shape changes, a downsample. `inplanes` is updated to the stage's output channels.
ModulePtr make_stage(ResNetBlockKind kind, int& inplanes, int planes, int num_blocks,
                     int stride) {
  int expansion = kind == ResNetBlockKind::Basic ? BasicBlock::expansion : Bottleneck::expansion;
  auto stage = std::make_shared<Sequential>();
  for (int i = 0; i < num_blocks; ++i) {
    int s = i == 0 ? stride : 1;
    ModulePtr downsample;
    if (s != 1 || inplanes != planes * expansion) {
      downsample = std::make_shared<Sequential>(std::vector<ModulePtr>{
          conv1x1(inplanes, planes * expansion, s), batch_norm(planes * expansion)});
    }
    if (kind == ResNetBlockKind::Basic) {
      stage->push_back(std::make_shared<BasicBlock>(inplanes, planes, s, downsample));
    } else {
      stage->push_back(std::make_shared<Bottleneck>(inplanes, planes, s, downsample));
    }
    inplanes = planes * expansion;
  }
  return stage;
}

}  // namespace

ResNet::ResNet(const ResNetConfig& config, Rng& rng) : config_(config) {
  NWQ_CHECK(config.layers.size() == 4, "ResNet: needs 4 stage sizes, got ", config.layers.size());
  for (int n : config.layers) NWQ_CHECK(n > 0, "ResNet: every stage needs a block, got ", n);
  NWQ_CHECK(config.in_channels > 0 && config.num_classes > 0, "ResNet: invalid in_channels ",
            config.in_channels, " or num_classes ", config.num_classes);
  int expansion =
      config.block == ResNetBlockKind::Basic ? BasicBlock::expansion : Bottleneck::expansion;
  int inplanes = 64;
  if (config.cifar_stem) {
    conv1 = std::make_shared<Conv2d>(config.in_channels, 64,
                                     Conv2dOptions(3).padding(1).bias(false));
    maxpool = std::make_shared<Identity>();
  } else {
    conv1 = std::make_shared<Conv2d>(config.in_channels, 64,
                                     Conv2dOptions(7).stride(2).padding(3).bias(false));
    maxpool = std::make_shared<MaxPool2d>(3, 2, 1);
  }
  bn1 = batch_norm(64);
  relu = std::make_shared<ReLU>();
  layer1 = make_stage(config.block, inplanes, 64, config.layers[0], 1);
  layer2 = make_stage(config.block, inplanes, 128, config.layers[1], 2);
  layer3 = make_stage(config.block, inplanes, 256, config.layers[2], 2);
  layer4 = make_stage(config.block, inplanes, 512, config.layers[3], 2);
  avgpool = std::make_shared<AdaptiveAvgPool2d>(1);
  fc = std::make_shared<Linear>(512 * expansion, config.num_classes);
  for (auto [name, slot] : std::vector<std::pair<const char*, ModulePtr*>>{
           {"conv1", &conv1}, {"bn1", &bn1}, {"relu", &relu}, {"maxpool", &maxpool},
           {"layer1", &layer1}, {"layer2", &layer2}, {"layer3", &layer3}, {"layer4", &layer4},
           {"avgpool", &avgpool}, {"fc", &fc}}) {
    register_module(name, slot);
  }

  // torchvision: Linear keeps torch's default init; convs get kaiming fan-out; BN is (1, 0),
  // which the constructor already set.
  reset_linear(dynamic_cast<Linear&>(*fc), rng);
  for (auto& [name, m] : named_modules()) {
    auto* conv = dynamic_cast<Conv2d*>(m);
    if (conv) kaiming_normal_(conv->weight, rng, 0.0, FanMode::Out);
  }
}

std::vector<Block> ResNet::blocks() {
  std::vector<Block> out;
  out.push_back({"stem", [this](const Tensor& x) {
                   return maxpool->forward(relu->forward(bn1->forward(conv1->forward(x))));
                 }});
  for (int stage = 1; stage <= 4; ++stage) {
    for (int i = 0; i < config_.layers[stage - 1]; ++i) {
      std::string path = str("layer", stage, ".", i);
      out.push_back({path, [this, path](const Tensor& x) { return find(path)->forward(x); }});
    }
  }
  out.push_back({"head", [this](const Tensor& x) {
                   return fc->forward(flatten(avgpool->forward(x), 1));
                 }});
  return out;
}

std::string ResNet::extra_repr() const {
  const ResNetConfig& c = config_;
  return str(c.block == ResNetBlockKind::Basic ? "BasicBlock" : "Bottleneck", ", layers=[",
             c.layers[0], ", ", c.layers[1], ", ", c.layers[2], ", ", c.layers[3],
             "], in_channels=", c.in_channels, ", num_classes=", c.num_classes,
             c.cifar_stem ? ", cifar_stem" : "");
}

// ---------------------------------------------------------------- configurations

namespace {

ModelPtr make_resnet(ResNetBlockKind kind, std::vector<int> layers, bool cifar_stem,
                     int num_classes, int in_channels, Rng& rng) {
  ResNetConfig c;
  c.block = kind;
  c.layers = std::move(layers);
  c.in_channels = in_channels;
  c.num_classes = num_classes;
  c.cifar_stem = cifar_stem;
  return std::make_shared<ResNet>(c, rng);
}

}  // namespace

ModelPtr resnet18(int num_classes, int in_channels, Rng& rng) {
  return make_resnet(ResNetBlockKind::Basic, {2, 2, 2, 2}, false, num_classes, in_channels, rng);
}

ModelPtr resnet34(int num_classes, int in_channels, Rng& rng) {
  return make_resnet(ResNetBlockKind::Basic, {3, 4, 6, 3}, false, num_classes, in_channels, rng);
}

ModelPtr resnet50(int num_classes, int in_channels, Rng& rng) {
  return make_resnet(ResNetBlockKind::Bottleneck, {3, 4, 6, 3}, false, num_classes, in_channels,
                     rng);
}

ModelPtr resnet18_cifar(int num_classes, int in_channels, Rng& rng) {
  return make_resnet(ResNetBlockKind::Basic, {2, 2, 2, 2}, true, num_classes, in_channels, rng);
}

NamedTensors normalize_resnet_names(const NamedTensors& state) {
  // timm and torchvision agree on every ResNet parameter and buffer name, so only the
  // wrapper-level differences remain.
  return add_missing_bn_counters(strip_wrapper_prefixes(state));
}

}  // namespace nwq
