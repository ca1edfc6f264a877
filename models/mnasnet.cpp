// torchvision MNASNet (see models/mnasnet.h): the inverted residual with ReLU and 3x3 or 5x5
// depthwise convs, the width rounding, the network and its reconstruction blocks.
#include "models/mnasnet.h"

#include "models/init.h"
#include "ops/elementwise.h"
#include "ops/pool.h"
#include "ops/shape.h"

namespace nwq {

namespace {

const double kBnMomentum = 1.0 - 0.9997;  // torchvision's _BN_MOMENTUM, as it computes it
constexpr int kLastChannels = 1280;

// Conv2d without bias, padding k / 2.
ModulePtr conv(int in_channels, int out_channels, int kernel, int stride, int groups) {
  return std::make_shared<Conv2d>(
      in_channels, out_channels,
      Conv2dOptions(kernel).stride(stride).padding(kernel / 2).groups(groups).bias(false));
}

ModulePtr norm(int channels) { return std::make_shared<BatchNorm2d>(channels, 1e-5, kBnMomentum); }

struct StackSetting {
  int kernel, stride, expansion, repeats;
};

// torchvision's six _stack calls, in order (channels come from mnasnet_depths: 2..7).
const std::vector<StackSetting>& stack_settings() {
  static const std::vector<StackSetting> settings = {
      {3, 2, 3, 3}, {5, 2, 3, 3}, {5, 2, 6, 3}, {3, 1, 6, 2}, {5, 2, 6, 4}, {3, 1, 6, 1}};
  return settings;
}

// torchvision's _round_to_multiple_of(value, divisor, round_up_bias = 0.9).
int round_to_multiple_of(double value, int divisor) {
  int rounded = std::max(divisor, static_cast<int>(value + divisor / 2.0) / divisor * divisor);
  return rounded >= 0.9 * value ? rounded : rounded + divisor;
}

constexpr int kFirstStack = 8;  // layers.8 .. layers.13 are the stacks

}  // namespace

std::vector<int> mnasnet_depths(double alpha) {
  NWQ_CHECK(alpha > 0, "MNASNet: alpha must be > 0, got ", alpha);
  std::vector<int> depths;
  for (int d : {32, 16, 24, 40, 80, 96, 192, 320}) depths.push_back(round_to_multiple_of(d * alpha, 8));
  return depths;
}

// ---------------------------------------------------------------- inverted residual

MnasInvertedResidual::MnasInvertedResidual(int in_channels, int out_channels, int kernel,
                                           int stride, int expansion, double bn_momentum)
    : in_channels_(in_channels), out_channels_(out_channels), kernel_(kernel), stride_(stride),
      expansion_(expansion), apply_residual_(in_channels == out_channels && stride == 1) {
  NWQ_CHECK(stride == 1 || stride == 2, "MNASNet _InvertedResidual: stride must be 1 or 2, got ",
            stride);
  NWQ_CHECK(kernel == 3 || kernel == 5, "MNASNet _InvertedResidual: kernel must be 3 or 5, got ",
            kernel);
  NWQ_CHECK(expansion >= 1, "MNASNet _InvertedResidual: invalid expansion ", expansion);
  const int mid = in_channels * expansion;
  auto bn = [bn_momentum](int c) { return std::make_shared<BatchNorm2d>(c, 1e-5, bn_momentum); };
  layers = std::make_shared<Sequential>(std::vector<ModulePtr>{
      conv(in_channels, mid, 1, 1, 1), bn(mid), std::make_shared<ReLU>(),
      conv(mid, mid, kernel, stride, mid), bn(mid), std::make_shared<ReLU>(),
      conv(mid, out_channels, 1, 1, 1), bn(out_channels)});
  register_module("layers", &layers);
}

Tensor MnasInvertedResidual::forward(const Tensor& x) {
  return apply_residual_ ? layers->forward(x) + x : layers->forward(x);
}

std::string MnasInvertedResidual::extra_repr() const {
  return str(in_channels_, ", ", out_channels_, ", kernel=", kernel_, ", stride=", stride_,
             ", expansion=", expansion_, apply_residual_ ? ", residual" : "");
}

// ---------------------------------------------------------------- the network

MNASNet::MNASNet(double alpha, int in_channels, int num_classes, Rng& rng, bool cifar)
    : alpha_(alpha), cifar_(cifar) {
  NWQ_CHECK(in_channels > 0 && num_classes > 0, "MNASNet: invalid in_channels ", in_channels,
            " or num_classes ", num_classes);
  const std::vector<int> d = mnasnet_depths(alpha);
  auto seq = std::make_shared<Sequential>(std::vector<ModulePtr>{
      conv(in_channels, d[0], 3, cifar ? 1 : 2, 1), norm(d[0]), std::make_shared<ReLU>(),  // 0-2
      conv(d[0], d[0], 3, 1, d[0]), norm(d[0]), std::make_shared<ReLU>(),      // 3-5
      conv(d[0], d[1], 1, 1, 1), norm(d[1])});                                 // 6-7
  for (size_t i = 0; i < stack_settings().size(); ++i) {                         // 8-13
    const StackSetting& s = stack_settings()[i];
    auto stack = std::make_shared<Sequential>();
    for (int r = 0; r < s.repeats; ++r) {
      stack->push_back(std::make_shared<MnasInvertedResidual>(
          r == 0 ? d[i + 1] : d[i + 2], d[i + 2], s.kernel,
          r == 0 && !(cifar && i == 0) ? s.stride : 1, s.expansion, kBnMomentum));
    }
    seq->push_back(stack);
  }
  seq->push_back(conv(d[7], kLastChannels, 1, 1, 1));  // 14-16
  seq->push_back(norm(kLastChannels));
  seq->push_back(std::make_shared<ReLU>());
  layers = seq;
  classifier = std::make_shared<Sequential>(std::vector<ModulePtr>{
      std::make_shared<Dropout>(0.2, rng.next_u64()),
      std::make_shared<Linear>(kLastChannels, num_classes)});
  register_module("layers", &layers);
  register_module("classifier", &classifier);

  for (auto& [name, m] : named_modules()) {
    if (auto* c = dynamic_cast<Conv2d*>(m)) {
      kaiming_normal_(c->weight, rng, 0.0, FanMode::Out);
    } else if (auto* lin = dynamic_cast<Linear*>(m)) {
      kaiming_uniform_(lin->weight, rng, 1.0, FanMode::Out);  // a = 1: gain 1 (sigmoid's)
      constant_(lin->bias, 0.0);
    }
  }
}

std::vector<Block> MNASNet::blocks() {
  // A unit over layers first..last (inclusive) of `layers`.
  auto range = [this](const std::string& name, int first, int last) {
    return Block{name, [this, first, last](const Tensor& x) {
                   auto& seq = dynamic_cast<Sequential&>(*layers);
                   Tensor y = x;
                   for (int i = first; i <= last; ++i) y = seq[i]->forward(y);
                   return y;
                 }};
  };
  std::vector<Block> out = {range("stem", 0, 2), range("layers.3", 3, 5), range("layers.6", 6, 7)};
  for (size_t i = 0; i < stack_settings().size(); ++i) {
    for (int r = 0; r < stack_settings()[i].repeats; ++r) {
      std::string path = str("layers.", kFirstStack + i, ".", r);
      out.push_back({path, [this, path](const Tensor& x) { return find(path)->forward(x); }});
    }
  }
  out.push_back(range("layers.14", 14, 16));
  out.push_back({"head", [this](const Tensor& x) {
                   return classifier->forward(flatten(global_avg_pool2d(x), 1));
                 }});
  return out;
}

std::string MNASNet::extra_repr() const {
  return str("alpha=", alpha_, cifar_ ? ", cifar strides" : "");
}

ModelPtr mnasnet1_0(int num_classes, int in_channels, Rng& rng) {
  return std::make_shared<MNASNet>(1.0, in_channels, num_classes, rng);
}

ModelPtr mnasnet2_0(int num_classes, int in_channels, Rng& rng) {
  return std::make_shared<MNASNet>(2.0, in_channels, num_classes, rng);
}

ModelPtr mnasnet1_0_cifar(int num_classes, int in_channels, Rng& rng) {
  return std::make_shared<MNASNet>(1.0, in_channels, num_classes, rng, true);
}

}  // namespace nwq
