// Weight initialisation: the in-place fillers (normal_, uniform_, kaiming_*), torch's default
// init of every layer in a tree (reset_parameters), all drawn from an explicit Rng.
// Layers are allocated with zero weights; models call these in their constructors.
#pragma once
#include "core/rng.h"
#include "models/layers.h"

namespace nwq {

enum class FanMode { In, Out };

// Fans of a weight [out, in, ...]: in * receptive field and out * receptive field (as torch).
int64_t fan_in(const Tensor& w);
int64_t fan_out(const Tensor& w);

// Fill the tensor's existing storage (any device; values drawn on the host in F64, then cast).
void normal_(Tensor& t, Rng& rng, double mean = 0.0, double std = 1.0);
void uniform_(Tensor& t, Rng& rng, double lo, double hi);
void constant_(Tensor& t, double value);

// He et al. 2015 with torch's defaults: gain sqrt(2 / (1 + a^2)) (a = negative slope of the
// following leaky ReLU, 0 for ReLU); normal: std = gain / sqrt(fan); uniform: bound =
// gain * sqrt(3 / fan).
void kaiming_normal_(Tensor& w, Rng& rng, double a = 0.0, FanMode mode = FanMode::In);
void kaiming_uniform_(Tensor& w, Rng& rng, double a = 0.0, FanMode mode = FanMode::In);

// torch.nn's default init: Conv2d / Linear weight kaiming_uniform_(a = sqrt(5)), i.e.
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in));
// BatchNorm2d back to weight 1, bias 0, running mean 0, var 1, count 0.
void reset_conv2d(Conv2d& conv, Rng& rng);
void reset_linear(Linear& linear, Rng& rng);
// Applies the above to every Conv2d, Linear and BatchNorm2d of the tree, in named_modules order.
void reset_parameters(Module& root, Rng& rng);

}  // namespace nwq
