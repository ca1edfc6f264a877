// Learning-rate schedules as a pure function of the step: constant, cosine, linear decay and
// step decay, each with an optional linear warm-up from 0. Steps count optimizer updates.
#pragma once
#include <cstdint>
#include <string>

namespace nwq {

struct LrSchedule {
  enum class Kind { Constant, Cosine, Linear, Step };
  Kind kind = Kind::Constant;
  double base_lr = 0.1;
  double final_lr = 0.0;       // cosine / linear end value
  int64_t total_steps = 1;     // cosine / linear length, warm-up included
  int64_t warmup_steps = 0;    // linear ramp from base_lr/warmup_steps up to base_lr
  int64_t step_size = 1;       // step decay: multiply by gamma every step_size steps
  double gamma = 0.1;

  double at(int64_t step) const;
};

// Builds a schedule from "constant", "cosine", "linear" or "step:SIZE:GAMMA" (SIZE in steps);
// flag names the option in errors.
LrSchedule make_schedule(const std::string& spec, double base_lr, int64_t total_steps,
                         int64_t warmup_steps, const std::string& flag = "--schedule");

}  // namespace nwq
