// torchvision RegNetX (see models/regnet.h): the width generator, the residual bottleneck
// block with grouped 3x3 convs, the network with its reconstruction blocks, and pycls names.
#include "models/regnet.h"

#include <cmath>
#include <cstdio>

#include "models/checkpoint_names.h"
#include "models/init.h"
#include "ops/elementwise.h"
#include "ops/shape.h"

namespace nwq {

namespace {

// torchvision's Conv2dNormActivation: Sequential("0" conv (no bias, padding (k-1)/2), "1" BN,
// "2" ReLU when `relu`).
ModulePtr conv_norm(int in_channels, int out_channels, int kernel, int stride, int groups,
                    bool relu) {
  const Conv2dOptions options =
      Conv2dOptions(kernel).stride(stride).padding((kernel - 1) / 2).groups(groups).bias(false);
  auto seq = std::make_shared<Sequential>();
  seq->push_back(std::make_shared<Conv2d>(in_channels, out_channels, options));
  seq->push_back(std::make_shared<BatchNorm2d>(out_channels));
  if (relu) seq->push_back(std::make_shared<ReLU>());
  return seq;
}

// torchvision's _make_divisible(v, divisor): the nearest multiple of divisor (at least divisor),
// one divisor more when that lost over 10% of v.
int make_divisible(int value, int divisor) {
  int rounded = std::max(divisor, static_cast<int>(value + divisor / 2.0) / divisor * divisor);
  return rounded < 0.9 * value ? rounded + divisor : rounded;
}

constexpr int kStemWidth = 32;

}  // namespace

RegNetStages regnet_stages(int depth, double w_0, double w_a, double w_m, int group_width) {
  NWQ_CHECK(depth >= 1 && w_a >= 0 && w_0 > 0 && w_m > 1 && std::fmod(w_0, 8.0) == 0 &&
                group_width >= 1,
            "regnet_stages: invalid parameters depth ", depth, ", w_0 ", w_0, ", w_a ", w_a,
            ", w_m ", w_m, ", group width ", group_width,
            " (need depth >= 1, w_a >= 0, w_0 > 0 and a multiple of 8, w_m > 1)");
  const double quant = 8;
  RegNetStages s;
  for (int j = 0; j < depth; ++j) {
    double continuous = j * w_a + w_0;
    double k = std::nearbyint(std::log(continuous / w_0) / std::log(w_m));  // ties to even
    int width = static_cast<int>(std::nearbyint(w_0 * std::pow(w_m, k) / quant) * quant);
    if (s.widths.empty() || s.widths.back() != width) {
      s.widths.push_back(width);
      s.depths.push_back(0);
    }
    ++s.depths.back();
  }
  for (int& width : s.widths) {
    int g = std::min(group_width, width);
    width = make_divisible(width, g);
    s.group_widths.push_back(g);
  }
  return s;
}

// ---------------------------------------------------------------- the block

ResBottleneckBlock::ResBottleneckBlock(int width_in, int width_out, int stride, int group_width)
    : width_in_(width_in), width_out_(width_out), stride_(stride),
      groups_(width_out / std::max(group_width, 1)) {
  NWQ_CHECK(width_in > 0 && width_out > 0 && (stride == 1 || stride == 2) && group_width >= 1 &&
                width_out % group_width == 0,
            "ResBottleneckBlock: invalid widths ", width_in, " -> ", width_out, ", stride ",
            stride, " or group width ", group_width, " (it must divide the output width)");
  if (width_in != width_out || stride != 1) {
    proj = conv_norm(width_in, width_out, 1, stride, 1, false);
    register_module("proj", &proj);
  }
  auto transform = std::make_shared<Sequential>();
  transform->push_back("a", conv_norm(width_in, width_out, 1, 1, 1, true));
  transform->push_back("b", conv_norm(width_out, width_out, 3, stride, groups_, true));
  transform->push_back("c", conv_norm(width_out, width_out, 1, 1, 1, false));
  f = transform;
  activation = std::make_shared<ReLU>();
  register_module("f", &f);
  register_module("activation", &activation);
}

Tensor ResBottleneckBlock::forward(const Tensor& x) {
  Tensor shortcut = proj ? proj->forward(x) : x;  // torchvision runs proj before f
  Tensor y = shortcut + f->forward(x);
  return activation->forward(y);
}

std::string ResBottleneckBlock::extra_repr() const {
  return str(width_in_, ", ", width_out_, ", stride=", stride_, ", groups=", groups_,
             proj ? ", proj" : "");
}

// ---------------------------------------------------------------- the network

RegNet::RegNet(const RegNetStages& stages, int in_channels, int num_classes, Rng& rng,
               bool cifar)
    : stages_(stages), cifar_(cifar) {
  NWQ_CHECK(in_channels > 0 && num_classes > 0, "RegNet: invalid in_channels ", in_channels,
            " or num_classes ", num_classes);
  NWQ_CHECK(!stages.depths.empty() && stages.depths.size() == stages.widths.size() &&
                stages.depths.size() == stages.group_widths.size(),
            "RegNet: depths, widths and group widths must have one entry per stage");
  stem = conv_norm(in_channels, kStemWidth, 3, cifar ? 1 : 2, 1, true);
  auto trunk = std::make_shared<Sequential>();
  int width = kStemWidth;
  for (size_t s = 0; s < stages.depths.size(); ++s) {
    auto stage = std::make_shared<Sequential>();
    for (int i = 0; i < stages.depths[s]; ++i) {
      stage->push_back(str("block", s + 1, "-", i),
                       std::make_shared<ResBottleneckBlock>(i == 0 ? width : stages.widths[s],
                                                            stages.widths[s],
                                                            i == 0 && !(cifar && s == 0) ? 2 : 1,
                                                            stages.group_widths[s]));
    }
    trunk->push_back(str("block", s + 1), stage);
    width = stages.widths[s];
  }
  trunk_output = trunk;
  avgpool = std::make_shared<AdaptiveAvgPool2d>(1);
  fc = std::make_shared<Linear>(width, num_classes);
  register_module("stem", &stem);
  register_module("trunk_output", &trunk_output);
  register_module("avgpool", &avgpool);
  register_module("fc", &fc);

  for (auto& [name, m] : named_modules()) {
    if (auto* conv = dynamic_cast<Conv2d*>(m)) {
      normal_(conv->weight, rng, 0.0, std::sqrt(2.0 / fan_out(conv->weight)));
    } else if (auto* lin = dynamic_cast<Linear*>(m)) {
      normal_(lin->weight, rng, 0.0, 0.01);
      constant_(lin->bias, 0.0);
    }
  }
}

std::vector<Block> RegNet::blocks() {
  std::vector<Block> out;
  out.push_back({"stem", [this](const Tensor& x) { return stem->forward(x); }});
  for (size_t s = 0; s < stages_.depths.size(); ++s) {
    for (int i = 0; i < stages_.depths[s]; ++i) {
      std::string path = str("trunk_output.block", s + 1, ".block", s + 1, "-", i);
      out.push_back({path, [this, path](const Tensor& x) { return find(path)->forward(x); }});
    }
  }
  out.push_back({"head", [this](const Tensor& x) {
                   return fc->forward(flatten(avgpool->forward(x), 1));
                 }});
  return out;
}

std::string RegNet::extra_repr() const {
  std::string depths, widths;
  for (size_t s = 0; s < stages_.depths.size(); ++s) {
    depths += str(s ? " " : "", stages_.depths[s]);
    widths += str(s ? " " : "", stages_.widths[s], "/", stages_.group_widths[s]);
  }
  return str("depths=", depths, ", widths/group widths=", widths, cifar_ ? ", cifar strides" : "");
}

ModelPtr regnet_x_600mf(int num_classes, int in_channels, Rng& rng) {
  return std::make_shared<RegNet>(regnet_stages(16, 48, 36.97, 2.24, 24), in_channels,
                                  num_classes, rng);
}

ModelPtr regnet_x_3_2gf(int num_classes, int in_channels, Rng& rng) {
  return std::make_shared<RegNet>(regnet_stages(25, 88, 26.31, 2.25, 48), in_channels,
                                  num_classes, rng);
}

ModelPtr regnet_x_600mf_cifar(int num_classes, int in_channels, Rng& rng) {
  return std::make_shared<RegNet>(regnet_stages(16, 48, 36.97, 2.24, 24), in_channels,
                                  num_classes, rng, true);
}

// ---------------------------------------------------------------- pycls names

namespace {

// A pycls key's torchvision name; unknown keys are kept (strict loading then names them).
std::string pycls_to_torchvision(const std::string& key) {
  static const std::vector<std::pair<std::string, std::string>> top = {
      {"stem.conv.", "stem.0."}, {"stem.bn.", "stem.1."}, {"head.fc.", "fc."}};
  for (const auto& [from, to] : top) {
    if (key.compare(0, from.size(), from) == 0) return to + key.substr(from.size());
  }
  int stage = 0, block = 0, used = 0;
  if (std::sscanf(key.c_str(), "s%d.b%d.%n", &stage, &block, &used) < 2 || used == 0 ||
      stage < 1 || block < 1) {
    return key;
  }
  const std::string rest = key.substr(used);
  const std::string prefix = str("trunk_output.block", stage, ".block", stage, "-", block - 1, ".");
  static const std::vector<std::pair<std::string, std::string>> parts = {
      {"proj.", "proj.0."}, {"bn.", "proj.1."},   {"f.a.", "f.a.0."}, {"f.a_bn.", "f.a.1."},
      {"f.b.", "f.b.0."},   {"f.b_bn.", "f.b.1."}, {"f.c.", "f.c.0."}, {"f.c_bn.", "f.c.1."}};
  for (const auto& [from, to] : parts) {
    if (rest.compare(0, from.size(), from) == 0) return prefix + to + rest.substr(from.size());
  }
  return key;
}

}  // namespace

NamedTensors normalize_regnet_names(const NamedTensors& state) {
  NamedTensors out = strip_wrapper_prefixes(state);
  bool pycls = false;
  for (const auto& entry : out) pycls = pycls || entry.first == "stem.conv.weight";
  if (pycls) {
    for (auto& entry : out) entry.first = pycls_to_torchvision(entry.first);
  }
  return add_missing_bn_counters(out);
}

}  // namespace nwq
