// Weight initialisation: fillers and torch's per-layer defaults (see models/init.h).
#include "models/init.h"

#include <cmath>

namespace nwq {

namespace {

int64_t receptive_field(const Tensor& w, const char* what) {
  NWQ_CHECK(w.defined() && w.dim() >= 2, what, ": needs a weight with at least 2 dims, got ",
            w.defined() ? w.describe() : "an undefined tensor");
  int64_t r = 1;
  for (int64_t d = 2; d < w.dim(); ++d) r *= w.size(d);
  return r;
}

double kaiming_std(const Tensor& w, double a, FanMode mode, const char* what) {
  int64_t fan = mode == FanMode::In ? fan_in(w) : fan_out(w);
  NWQ_CHECK(fan > 0, what, ": zero fan for ", w.describe());
  return std::sqrt(2.0 / (1.0 + a * a)) / std::sqrt(static_cast<double>(fan));
}

}  // namespace

int64_t fan_in(const Tensor& w) { return w.size(1) * receptive_field(w, "fan_in"); }

int64_t fan_out(const Tensor& w) { return w.size(0) * receptive_field(w, "fan_out"); }

void normal_(Tensor& t, Rng& rng, double mean, double std) {
  t.copy_(Tensor::normal(t.sizes(), rng, mean, std, t.dtype()));
}

void uniform_(Tensor& t, Rng& rng, double lo, double hi) {
  t.copy_(Tensor::uniform(t.sizes(), rng, lo, hi, t.dtype()));
}

void constant_(Tensor& t, double value) { t.copy_(Tensor::full(t.sizes(), value, t.dtype())); }

void kaiming_normal_(Tensor& w, Rng& rng, double a, FanMode mode) {
  normal_(w, rng, 0.0, kaiming_std(w, a, mode, "kaiming_normal_"));
}

void kaiming_uniform_(Tensor& w, Rng& rng, double a, FanMode mode) {
  double bound = std::sqrt(3.0) * kaiming_std(w, a, mode, "kaiming_uniform_");
  uniform_(w, rng, -bound, bound);
}

// Shared by Conv2d and Linear: torch's reset_parameters.
static void reset_weight_and_bias(Tensor& weight, Tensor& bias, Rng& rng) {
  kaiming_uniform_(weight, rng, std::sqrt(5.0));
  if (bias.defined()) {
    double bound = 1.0 / std::sqrt(static_cast<double>(fan_in(weight)));
    uniform_(bias, rng, -bound, bound);
  }
}

void reset_conv2d(Conv2d& conv, Rng& rng) { reset_weight_and_bias(conv.weight, conv.bias, rng); }

void reset_linear(Linear& linear, Rng& rng) {
  reset_weight_and_bias(linear.weight, linear.bias, rng);
}

void reset_parameters(Module& root, Rng& rng) {
  for (auto& [name, m] : root.named_modules()) {
    if (auto* conv = dynamic_cast<Conv2d*>(m)) reset_conv2d(*conv, rng);
    else if (auto* lin = dynamic_cast<Linear*>(m)) reset_linear(*lin, rng);
    else if (auto* bn = dynamic_cast<BatchNorm2d*>(m)) bn->reset();
  }
}

}  // namespace nwq
