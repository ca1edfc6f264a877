// torchvision's MNASNet (Tan et al. 2019, MnasNet-A1 without squeeze-excitation): mnasnet1_0 and
// mnasnet2_0 (width 2.0, QDrop's "MNasx2"). QDrop's and BRECQ's MnasNet use the same names.
#pragma once
#include <vector>

#include "models/layers.h"

namespace nwq {

// torchvision's _InvertedResidual: `layers` = Sequential of "0" 1x1 conv to in * expansion,
// "1" BN, "2" ReLU, "3" k x k depthwise conv with the stride, "4" BN, "5" ReLU, "6" 1x1 conv
// to out, "7" BN. forward: layers(x) + x when stride is 1 and in == out, else layers(x).
class MnasInvertedResidual : public Module {
 public:
  MnasInvertedResidual(int in_channels, int out_channels, int kernel, int stride,
                       int expansion, double bn_momentum);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "_InvertedResidual"; }
  std::string extra_repr() const override;
  bool apply_residual() const { return apply_residual_; }

  ModulePtr layers;

 private:
  int in_channels_, out_channels_, kernel_, stride_, expansion_;
  bool apply_residual_;
};

// torchvision's channel counts for a width multiplier: 32 16 24 40 80 96 192 320 scaled by alpha
// and rounded to a multiple of 8, rounding up unless that is within 10% (_round_to_multiple_of).
std::vector<int> mnasnet_depths(double alpha);

// layers = Sequential of 17: "0" 3x3/2 conv, "1" BN, "2" ReLU, "3" 3x3 depthwise conv, "4" BN,
// "5" ReLU, "6" 1x1 conv, "7" BN, "8".."13" stacks (Sequentials "0", "1", ... of
// MnasInvertedResidual; (kernel, stride, expansion, repeats) = (3,2,3,3) (5,2,3,3) (5,2,6,3)
// (3,1,6,2) (5,2,6,4) (3,1,6,1), stride on a stack's first block), "14" 1x1 conv to 1280, "15"
// BN, "16" ReLU; then the mean over H and W (a function, as in torchvision) and classifier =
// Sequential("0" Dropout(0.2), "1" Linear(1280, classes)). BN momentum 1 - 0.9997, eps 1e-5.
// Init (torchvision): conv kaiming_normal_ (fan out, ReLU gain), BN (1, 0), Linear weight
// kaiming_uniform_ (fan out, gain 1), bias 0.
class MNASNet : public Model {
 public:
  // cifar: the 32x32 variant (mnasnet1_0_cifar): the stem conv (layers.0) and the first block of
  // the 24-channel stack (layers.8.0) keep the resolution (stride 1, the convention of
  // mobilenetv2_cifar), so 32x32 inputs reach 4x4 at layers.12 (ImageNet's 224 reaches 7x7).
  MNASNet(double alpha, int in_channels, int num_classes, Rng& rng, bool cifar = false);
  // "stem" (layers.0-2), "layers.3" (3-5, the depthwise conv), "layers.6" (6-7, the pointwise
  // conv): BRECQ and QDrop reconstruct these three layers one by one, as they lie outside any
  // block; then every inverted residual "layers.8.0", ..., "layers.13.0"; "layers.14" (14-16,
  // the last 1x1 conv, a unit of its own as in MobileNetV2); "head" (mean, classifier).
  std::vector<Block> blocks() override;
  std::string type_name() const override { return "MNASNet"; }
  std::string extra_repr() const override;
  double alpha() const { return alpha_; }

  ModulePtr layers, classifier;

 private:
  double alpha_;
  bool cifar_;
};

// mnasnet1_0: 4,383,312 parameters with 1000 classes; mnasnet2_0: 12,469,944.
ModelPtr mnasnet1_0(int num_classes, int in_channels, Rng& rng);
ModelPtr mnasnet2_0(int num_classes, int in_channels, Rng& rng);
ModelPtr mnasnet1_0_cifar(int num_classes, int in_channels, Rng& rng);

}  // namespace nwq
