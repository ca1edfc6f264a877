// torchvision's RegNet (Radosavovic et al. 2020, "Designing Network Design Spaces"), X family
// (no squeeze-excitation): regnet_x_600mf and regnet_x_3_2gf, and pycls / BRECQ / QDrop names.
#pragma once
#include <vector>

#include "models/layers.h"

namespace nwq {

// Per-stage settings of a RegNet: blocks, output width and group width of each stage (every
// stage strides by 2 on its first block; bottleneck multiplier 1, as for all RegNetX).
struct RegNetStages {
  std::vector<int> depths, widths, group_widths;
};

// The RegNet generator (torchvision's BlockParams.from_init_params, pycls's generate_regnet):
// block j gets the continuous width w_0 + j w_a, which is snapped to w_0 w_m^k (k the nearest
// integer, ties to even) and rounded to a multiple of 8; runs of equal width form the stages;
// then each stage's group width is capped by its width and the width made divisible by it
// (torchvision's _make_divisible). RegNetX-600MF: (16, 48, 36.97, 2.24, 24) gives depths 1 3 5 7,
// widths 48 96 240 528; RegNetX-3.2GF: (25, 88, 26.31, 2.25, 48) gives 2 6 15 2 and 96 192 432
// 1008. Throws on parameters the generator refuses (w_a < 0, w_0 <= 0, w_m <= 1, w_0 % 8).
RegNetStages regnet_stages(int depth, double w_0, double w_a, double w_m, int group_width);

// torchvision's ResBottleneckBlock: activation(proj(x) + f(x)), or activation(x + f(x)) when
// the width and resolution are kept (then there is no `proj` child). proj = Sequential("0"
// 1x1 conv with the stride, "1" BN); f = BottleneckTransform, a Sequential of "a" (1x1
// conv-BN-ReLU), "b" (3x3 grouped conv-BN-ReLU with the stride, groups = width / group width),
// "c" (1x1 conv-BN), each a Sequential "0" conv, "1" BN[, "2" ReLU]. Registration order: proj,
// f, activation.
class ResBottleneckBlock : public Module {
 public:
  ResBottleneckBlock(int width_in, int width_out, int stride, int group_width);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ResBottleneckBlock"; }
  std::string extra_repr() const override;

  ModulePtr proj, f, activation;  // proj is null when the block has none

 private:
  int width_in_, width_out_, stride_, groups_;
};

// stem = Sequential("0" 3x3/2 conv to 32, "1" BN, "2" ReLU); trunk_output = Sequential of
// stages "block1".."block4", stage s a Sequential of blocks "blocks-0", "blocks-1", ... (stride
// 2 on its first block); avgpool (AdaptiveAvgPool2d 1x1), flatten, fc. BN eps 1e-5, momentum
// 0.1. Init (torchvision, "ResNet-style"): conv weights normal(0, sqrt(2 / (k k out))), BN
// (1, 0), fc weight normal(0, 0.01), bias 0.
NamedTensors normalize_regnet_names(const NamedTensors& state);  // defined below the class

class RegNet : public Model {
 public:
  NamedTensors normalize_checkpoint(const NamedTensors& state) const override {
    return normalize_regnet_names(state);
  }
  // cifar: the 32x32 variant (regnet_x_600mf_cifar): the stem conv and the first block of
  // block1 keep the resolution (stride 1, the convention of mobilenetv2_cifar), so 32x32 inputs
  // reach 4x4 at block4 (ImageNet's 224 goes 112, 56, 28, 14, 7). Nothing else changes.
  RegNet(const RegNetStages& stages, int in_channels, int num_classes, Rng& rng,
         bool cifar = false);
  // "stem", every block "trunk_output.block1.block1-0", ... (BRECQ/QDrop reconstruct each
  // ResBottleneckBlock as a unit), "head" (avgpool, flatten, fc).
  std::vector<Block> blocks() override;
  std::string type_name() const override { return "RegNet"; }
  std::string extra_repr() const override;
  const RegNetStages& stages() const { return stages_; }

  ModulePtr stem, trunk_output, avgpool, fc;

 private:
  RegNetStages stages_;
  bool cifar_;
};

// regnet_x_600mf: torchvision has none; this is torchvision's RegNet class with pycls's
// RegNetX-600MF parameters, the network of BRECQ's and QDrop's tables (6,196,040 parameters
// with 1000 classes). regnet_x_3_2gf: torchvision's (15,296,552).
ModelPtr regnet_x_600mf(int num_classes, int in_channels, Rng& rng);
ModelPtr regnet_x_3_2gf(int num_classes, int in_channels, Rng& rng);
ModelPtr regnet_x_600mf_cifar(int num_classes, int in_channels, Rng& rng);

// Maps RegNet checkpoints to torchvision's names: removes wrapper prefixes, adds missing BN
// counters, and, when it finds `stem.conv.weight`, renames pycls's names (which BRECQ's and
// QDrop's model zoos use): stem.{conv,bn} -> stem.{0,1}; sS.bB.{proj,bn} ->
// trunk_output.blockS.blockS-(B-1).proj.{0,1}; sS.bB.f.{a,a_bn,b,b_bn,c,c_bn} -> ....f.{a.0,a.1,
// b.0,b.1,c.0,c.1}; head.fc -> fc. torchvision names pass through unchanged.
NamedTensors normalize_regnet_names(const NamedTensors& state);

}  // namespace nwq
