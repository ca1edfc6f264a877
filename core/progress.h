// A one-line progress bar on stderr with rate, ETA and caller-supplied stats (loss, accuracy).
// On a terminal it redraws in place; otherwise (logs, CI) it prints a line every 10%.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace nwq {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total, bool enabled = true);
  void update(int64_t done, const std::string& stats = "");
  void finish(const std::string& stats = "");
  double elapsed_seconds() const;

 private:
  void draw(int64_t done, const std::string& stats, bool final_line);

  std::string label_;
  int64_t total_;
  bool enabled_, tty_;
  int last_decile_ = -1;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// "1h02m", "3m05s", "12.3s"
std::string format_duration(double seconds);

}  // namespace nwq
