// The steps of the integer engine that run one packed layer on a batch of codes and finish its
// tiles: requantized to codes, left as float, or added to a residual and quantized in one pass.
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "deploy/int_conv.h"
#include "deploy/int_engine.h"

namespace nwq {

// A packed conv / linear layer and what turns its int32 sums into reals: y = acc * mult + bias.
struct IntLayerPlan {
  std::shared_ptr<const IntConvWeights> packed;
  bool conv = true;
  std::vector<double> mult;  // s_x * s_w[o]
  std::vector<float> bias;
};

// The activation grid a step writes codes on.
struct IntCodesGrid {
  float scale = 1;
  int zero_point = 0, qmax = 255;
};

using IntStep = std::function<void(IntEngine::Env&)>;

// codes in slot `in` -> codes in slot `out`: requantize_value per channel, clamped to [lo, hi].
IntStep requant_step(const IntLayerPlan& plan, int in, int out, std::vector<ChannelRequant> req,
                     IntCodesGrid grid, int lo, int hi);
// codes -> float: float(double(acc) * mult) + bias.
IntStep float_step(const IntLayerPlan& plan, int in, int out);
// codes -> quantize(relu?(layer(x) + other)): the float ops of the separate steps (layer output,
// Add, Relu, QuantizeLinear), element by element, with `other` (codes or float, same shape)
// dequantized on the fly: the same codes as running them one by one, without the temporaries.
IntStep residual_step(const IntLayerPlan& plan, int in, int other, bool relu, int out, IntCodesGrid grid);

}  // namespace nwq
