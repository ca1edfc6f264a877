// ProgressBar drawing: at most ~10 redraws a second on a terminal, deciles elsewhere.
#include "core/progress.h"

#include <unistd.h>

#include <cstdio>

namespace nwq {

ProgressBar::ProgressBar(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)), total_(total > 0 ? total : 1), enabled_(enabled),
      tty_(isatty(2) != 0), start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

double ProgressBar::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string format_duration(double s) {
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%dh%02dm", int(s / 3600), int(s / 60) % 60);
  else if (s >= 60) std::snprintf(buf, sizeof buf, "%dm%02ds", int(s / 60), int(s) % 60);
  else std::snprintf(buf, sizeof buf, "%.1fs", s);
  return buf;
}

void ProgressBar::update(int64_t done, const std::string& stats) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (tty_) {
    if (now - last_draw_ < std::chrono::milliseconds(100) && done < total_) return;
    last_draw_ = now;
    draw(done, stats, false);
    return;
  }
  int decile = static_cast<int>(10 * done / total_);
  if (decile == last_decile_ || done >= total_) return;  // the last line comes from finish()
  last_decile_ = decile;
  draw(done, stats, true);
}

void ProgressBar::finish(const std::string& stats) {
  if (!enabled_) return;
  draw(total_, stats, true);
}

void ProgressBar::draw(int64_t done, const std::string& stats, bool final_line) {
  const int width = 24;
  int filled = static_cast<int>(width * done / total_);
  std::string bar(filled, '#');
  bar += std::string(width - filled, '.');
  double elapsed = elapsed_seconds();
  double eta = done > 0 ? elapsed * double(total_ - done) / double(done) : 0.0;
  std::fprintf(stderr, "%s%s [%s] %lld/%lld %s<%s %s%s", tty_ ? "\r\033[K" : "", label_.c_str(),
               bar.c_str(), static_cast<long long>(done), static_cast<long long>(total_),
               format_duration(elapsed).c_str(), format_duration(eta).c_str(), stats.c_str(),
               final_line ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace nwq
