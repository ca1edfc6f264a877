// LR schedule formulas. Cosine: final + (base-final)·(1+cos(pi·t))/2 with t the fraction of
// the post-warm-up steps done; linear: base + (final-base)·t; step: base·gamma^(k/step_size).
#include "optim/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace nwq {

double LrSchedule::at(int64_t step) const {
  if (warmup_steps > 0 && step < warmup_steps) {
    return base_lr * double(step + 1) / double(warmup_steps);
  }
  int64_t after = step - warmup_steps;
  int64_t span = std::max<int64_t>(1, total_steps - warmup_steps);
  double t = std::min(1.0, double(after) / double(span));
  switch (kind) {
    case Kind::Constant: return base_lr;
    case Kind::Cosine: return final_lr + (base_lr - final_lr) * 0.5 * (1.0 + std::cos(M_PI * t));
    case Kind::Linear: return base_lr + (final_lr - base_lr) * t;
    case Kind::Step: return base_lr * std::pow(gamma, double(after / std::max<int64_t>(1, step_size)));
  }
  return base_lr;
}

LrSchedule make_schedule(const std::string& spec, double base_lr, int64_t total_steps,
                         int64_t warmup_steps, const std::string& flag) {
  LrSchedule s;
  s.base_lr = base_lr;
  s.total_steps = total_steps;
  s.warmup_steps = warmup_steps;
  NWQ_CHECK(warmup_steps >= 0, flag, ": warm-up must not be negative");
  if (spec == "constant") s.kind = LrSchedule::Kind::Constant;
  else if (spec == "cosine") s.kind = LrSchedule::Kind::Cosine;
  else if (spec == "linear") s.kind = LrSchedule::Kind::Linear;
  else if (spec.rfind("step:", 0) == 0) {
    s.kind = LrSchedule::Kind::Step;
    size_t colon = spec.find(':', 5);
    NWQ_CHECK(colon != std::string::npos, flag, ": expected step:SIZE:GAMMA, got '", spec, "'");
    try {
      s.step_size = std::stoll(spec.substr(5, colon - 5));
      s.gamma = std::stod(spec.substr(colon + 1));
    } catch (const std::exception&) {
      throw Error(str(flag, ": expected step:SIZE:GAMMA, got '", spec, "'"));
    }
    NWQ_CHECK(s.step_size > 0 && s.gamma > 0, flag, ": step size and gamma must be positive");
  } else {
    throw Error(str(flag, ": unknown schedule '", spec,
                    "' (expected constant, cosine, linear or step:SIZE:GAMMA)"));
  }
  return s;
}

}  // namespace nwq
