// Grad mode: whether ops record graph nodes. NoGradGuard switches recording off for a scope
// (calibration, the full-precision teacher, evaluation). The flag is per thread.
#pragma once

namespace nwq {

bool grad_enabled();
void set_grad_enabled(bool enabled);

class NoGradGuard {
 public:
  NoGradGuard() : previous_(grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace nwq
