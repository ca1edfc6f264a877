// Activation quantizers: the per-tensor fake quantizer with its calibration state and QDrop
// option, and the per-use wrapper of activation modules.
#include "quant/act_quantizer.h"

#include <cmath>
#include <limits>

#include "autograd/grad_mode.h"
#include "core/error.h"
#include "ops/elementwise.h"
#include "ops/fake_quant.h"
#include "ops/mix.h"
#include "quant/range_search.h"

namespace nwq {

ActQuantizer::ActQuantizer(int bits, double lp, Observer observer, bool lsq_grad_scale)
    : bits_(bits), lp_(lp), observer_(observer), lsq_grad_scale_(lsq_grad_scale) {
  scale = Tensor::ones({1});
  zero_point = Tensor::zeros({1});
  register_parameter("scale", &scale);
  register_buffer("zero_point", &zero_point);
}

std::string ActQuantizer::extra_repr() const { return str("bits=", bits_); }

void ActQuantizer::set_range(double s, double z) {
  NoGradGuard no_grad;
  scale.copy_(Tensor::full({1}, s, scale.dtype(), scale.device()));
  zero_point.copy_(Tensor::full({1}, z, zero_point.dtype(), zero_point.device()));
}

void ActQuantizer::keep_step_positive() {
  NoGradGuard no_grad;
  const double eps = std::numeric_limits<float>::epsilon();
  scale.copy_(clamp(abs(scale), eps, std::numeric_limits<double>::infinity()));
}

Tensor ActQuantizer::forward(const Tensor& x) {
  if (state == State::Off) return x;
  if (state == State::Calibrate || state == State::Observe) {
    QuantRange r;
    try {
      r = observe_tensor(x.detach(), bits_, lp_, observer_);
    } catch (const Error& e) {
      throw Error(str("calibrating the activation quantizer '", label, "': ", e.what(),
                      " (check the calibration images and the weights)"));
    }
    set_range(r.scale, r.zero_point);
    const bool pass_through = state == State::Observe;
    state = State::On;
    if (pass_through) return x;
  }
  keep_step_positive();
  const double g = lsq_grad_scale_ ? 1.0 / std::sqrt(double(x.numel()) * double(qmax())) : 1.0;
  Tensor y = fake_quant(x, scale, zero_point, 0, qmax(), -1, g);
  if (drop_p > 0 && rng) y = qdrop(y, x, drop_p, *rng);
  return y;
}

QuantAct::QuantAct(ModulePtr act, const std::vector<ActQuantizerPtr>& per_use)
    : act_(std::move(act)), per_use_(per_use) {
  NWQ_CHECK(!per_use_.empty(), "QuantAct: an activation with no uses");
  register_module("act", &act_);
  for (size_t i = 0; i < per_use_.size(); ++i) {
    if (!per_use_[i]) continue;
    slots_.push_back(per_use_[i]);
    register_module(str("use", i), &slots_.back());
  }
}

Tensor QuantAct::forward(const Tensor& x) {
  const size_t use = calls_++ % per_use_.size();
  Tensor y = act_->forward(x);
  return per_use_[use] ? per_use_[use]->forward(y) : y;
}

}  // namespace nwq
