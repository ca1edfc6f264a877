// torchvision MobileNetV2 (see models/mobilenet_v2.h): conv-BN-ReLU6 units, the inverted
// residual block, the network with its reconstruction blocks, and timm-name mapping.
#include "models/mobilenet_v2.h"

#include <cstdio>

#include "models/checkpoint_names.h"
#include "models/init.h"
#include "ops/elementwise.h"
#include "ops/pool.h"
#include "ops/shape.h"

namespace nwq {

ModulePtr conv_bn_relu6(int in_channels, int out_channels, int kernel, int stride, int groups) {
  const Conv2dOptions options =
      Conv2dOptions(kernel).stride(stride).padding((kernel - 1) / 2).groups(groups).bias(false);
  return std::make_shared<Sequential>(std::vector<ModulePtr>{
      std::make_shared<Conv2d>(in_channels, out_channels, options),
      std::make_shared<BatchNorm2d>(out_channels), std::make_shared<ReLU6>()});
}

// ---------------------------------------------------------------- inverted residual

InvertedResidual::InvertedResidual(int in_channels, int out_channels, int stride,
                                   int expand_ratio)
    : in_channels_(in_channels), out_channels_(out_channels), stride_(stride),
      expand_ratio_(expand_ratio), use_res_connect_(stride == 1 && in_channels == out_channels) {
  NWQ_CHECK(stride == 1 || stride == 2, "InvertedResidual: stride must be 1 or 2, got ", stride);
  NWQ_CHECK(expand_ratio >= 1, "InvertedResidual: invalid expand_ratio ", expand_ratio);
  int hidden = in_channels * expand_ratio;
  auto layers = std::make_shared<Sequential>();
  if (expand_ratio != 1) layers->push_back(conv_bn_relu6(in_channels, hidden, 1, 1, 1));
  layers->push_back(conv_bn_relu6(hidden, hidden, 3, stride, hidden));  // depthwise
  layers->push_back(std::make_shared<Conv2d>(hidden, out_channels, Conv2dOptions(1).bias(false)));
  layers->push_back(std::make_shared<BatchNorm2d>(out_channels));
  conv = layers;
  register_module("conv", &conv);
}

Tensor InvertedResidual::forward(const Tensor& x) {
  return use_res_connect_ ? x + conv->forward(x) : conv->forward(x);
}

std::string InvertedResidual::extra_repr() const {
  return str(in_channels_, ", ", out_channels_, ", stride=", stride_,
             ", expand_ratio=", expand_ratio_, use_res_connect_ ? ", residual" : "");
}

// ---------------------------------------------------------------- the network

namespace {

struct StageSetting {
  int expand_ratio, channels, num_blocks, stride;
};

// torchvision's inverted_residual_setting (t, c, n, s).
const std::vector<StageSetting>& stage_settings() {
  static const std::vector<StageSetting> settings = {
      {1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
      {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  return settings;
}

constexpr int kStemChannels = 32, kLastChannels = 1280;

}  // namespace

MobileNetV2::MobileNetV2(const MobileNetV2Config& config, Rng& rng) : config_(config) {
  NWQ_CHECK(config.in_channels > 0 && config.num_classes > 0, "MobileNetV2: invalid in_channels ",
            config.in_channels, " or num_classes ", config.num_classes);
  auto feats = std::make_shared<Sequential>();
  feats->push_back(conv_bn_relu6(config.in_channels, kStemChannels, 3, config.cifar ? 1 : 2, 1));
  int channels = kStemChannels;
  for (size_t stage = 0; stage < stage_settings().size(); ++stage) {
    const StageSetting& s = stage_settings()[stage];
    // mobilenetv2_cifar: the 24-channel stage (stage 1) keeps the resolution.
    int first_stride = config.cifar && stage == 1 ? 1 : s.stride;
    for (int i = 0; i < s.num_blocks; ++i) {
      feats->push_back(std::make_shared<InvertedResidual>(channels, s.channels,
                                                          i == 0 ? first_stride : 1,
                                                          s.expand_ratio));
      channels = s.channels;
    }
  }
  feats->push_back(conv_bn_relu6(channels, kLastChannels, 1, 1, 1));
  features = feats;
  classifier = std::make_shared<Sequential>(std::vector<ModulePtr>{
      std::make_shared<Dropout>(config.dropout, rng.next_u64()),
      std::make_shared<Linear>(kLastChannels, config.num_classes)});
  register_module("features", &features);
  register_module("classifier", &classifier);

  for (auto& [name, m] : named_modules()) {
    if (auto* conv = dynamic_cast<Conv2d*>(m)) {
      kaiming_normal_(conv->weight, rng, 0.0, FanMode::Out);
    } else if (auto* lin = dynamic_cast<Linear*>(m)) {
      normal_(lin->weight, rng, 0.0, 0.01);
      constant_(lin->bias, 0.0);
    }
  }
}

std::vector<Block> MobileNetV2::blocks() {
  // stem, the inverted residuals, the last 1x1 conv (its own unit, as BRECQ/QDrop reconstruct it),
  // then pooling and the classifier.
  std::vector<Block> out;
  out.push_back({"stem", [this](const Tensor& x) { return find("features.0")->forward(x); }});
  size_t last = dynamic_cast<Sequential&>(*features).size() - 1;  // features.18
  for (size_t i = 1; i <= last; ++i) {
    std::string path = str("features.", i);
    out.push_back({path, [this, path](const Tensor& x) { return find(path)->forward(x); }});
  }
  out.push_back({"head", [this](const Tensor& x) {
                   return classifier->forward(flatten(global_avg_pool2d(x), 1));
                 }});
  return out;
}

std::string MobileNetV2::extra_repr() const {
  return str("in_channels=", config_.in_channels, ", num_classes=", config_.num_classes,
             ", dropout=", config_.dropout, config_.cifar ? ", cifar" : "");
}

ModelPtr mobilenet_v2(int num_classes, int in_channels, Rng& rng) {
  MobileNetV2Config c;
  c.in_channels = in_channels;
  c.num_classes = num_classes;
  return std::make_shared<MobileNetV2>(c, rng);
}

ModelPtr mobilenetv2_cifar(int num_classes, int in_channels, Rng& rng) {
  MobileNetV2Config c;
  c.in_channels = in_channels;
  c.num_classes = num_classes;
  c.cifar = true;
  return std::make_shared<MobileNetV2>(c, rng);
}

// ---------------------------------------------------------------- timm names

namespace {

// A timm key's torchvision name. Stage S block I of timm is features.(1 + blocks before S + I).
// timm's first block is a DepthwiseSeparableConv (conv_dw, bn1, conv_pw, bn2), the others
// InvertedResiduals (conv_pw, bn1, conv_dw, bn2, conv_pwl, bn3). Unknown keys are kept.
std::string timm_to_torchvision(const std::string& key) {
  static const std::vector<std::pair<std::string, std::string>> top = {
      {"conv_stem.", "features.0.0."}, {"bn1.", "features.0.1."},
      {"conv_head.", "features.18.0."}, {"bn2.", "features.18.1."},
      {"classifier.", "classifier.1."}};
  for (const auto& [from, to] : top) {
    if (key.compare(0, from.size(), from) == 0) return to + key.substr(from.size());
  }
  int stage = -1, index = -1, used = 0;
  char part[32] = {0};
  if (std::sscanf(key.c_str(), "blocks.%d.%d.%31[a-z_0-9]%n", &stage, &index, part, &used) < 3 ||
      stage < 0 || stage >= static_cast<int>(stage_settings().size()) || index < 0 ||
      index >= stage_settings()[stage].num_blocks || key[used] != '.') {
    return key;
  }
  int feature = 1 + index;
  for (int s = 0; s < stage; ++s) feature += stage_settings()[s].num_blocks;
  static const std::vector<std::pair<std::string, std::string>> separable = {
      {"conv_dw", "0.0"}, {"bn1", "0.1"}, {"conv_pw", "1"}, {"bn2", "2"}};
  static const std::vector<std::pair<std::string, std::string>> inverted = {
      {"conv_pw", "0.0"}, {"bn1", "0.1"}, {"conv_dw", "1.0"},
      {"bn2", "1.1"},     {"conv_pwl", "2"}, {"bn3", "3"}};
  for (const auto& [from, to] : stage == 0 ? separable : inverted) {
    if (from == part) return str("features.", feature, ".conv.", to, key.substr(used));
  }
  return key;
}

}  // namespace

NamedTensors normalize_mobilenet_v2_names(const NamedTensors& state) {
  NamedTensors out = strip_wrapper_prefixes(state);
  bool timm = false;
  for (const auto& entry : out) timm = timm || entry.first == "conv_stem.weight";
  if (timm) {
    for (auto& entry : out) entry.first = timm_to_torchvision(entry.first);
  }
  return add_missing_bn_counters(out);
}

}  // namespace nwq
