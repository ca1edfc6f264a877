// A minimal raster plotter: canvas, lines, filled rectangles, a 3x5 digit font, and the two
// chart kinds that reports need. Written for readability, not speed.
#include "tools/lib/plot.h"

#include <stb/stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/error.h"

namespace nwq {

namespace {

class Canvas {
 public:
  Canvas(int w, int h) : w_(w), h_(h), pixels_(size_t(w) * h * 3, 255) {}
  void set(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= w_ || y >= h_) return;
    std::copy(c.begin(), c.end(), pixels_.begin() + (size_t(y) * w_ + x) * 3);
  }
  void fill(int x0, int y0, int x1, int y1, Rgb c) {
    for (int y = std::min(y0, y1); y <= std::max(y0, y1); ++y)
      for (int x = std::min(x0, x1); x <= std::max(x0, x1); ++x) set(x, y, c);
  }
  // A 2-pixel-wide line by stepping along the longer axis.
  void line(double x0, double y0, double x1, double y1, Rgb c) {
    const int steps = int(std::max(std::fabs(x1 - x0), std::fabs(y1 - y0))) + 1;
    for (int i = 0; i <= steps; ++i) {
      const double t = double(i) / steps;
      const int x = int(std::lround(x0 + (x1 - x0) * t)), y = int(std::lround(y0 + (y1 - y0) * t));
      fill(x, y, x + 1, y + 1, c);
    }
  }
  // Text in the 3x5 digit font, each font pixel drawn as a scale x scale square.
  void text(int x, int y, const std::string& s, int scale = 2) {
    for (char ch : s) {
      const char* rows = glyph(ch);
      for (int r = 0; r < 5; ++r)
        for (int col = 0; col < 3; ++col)
          if (rows[r * 3 + col] == '#')
            fill(x + col * scale, y + r * scale, x + col * scale + scale - 1,
                 y + r * scale + scale - 1, {0, 0, 0});
      x += 4 * scale;
    }
  }
  void save(const std::string& path) const {
    NWQ_CHECK(stbi_write_png(path.c_str(), w_, h_, 3, pixels_.data(), w_ * 3) != 0, path,
              ": could not write the PNG");
  }
  int width() const { return w_; }
  int height() const { return h_; }

 private:
  static const char* glyph(char c) {
    switch (c) {
      case '0': return "####.##.##.####";
      case '1': return ".#.##..#..#.###";
      case '2': return "###..#####..###";
      case '3': return "###..####..####";
      case '4': return "#.##.####..#..#";
      case '5': return "####..###..####";
      case '6': return "####..####.####";
      case '7': return "###..#..#..#..#";
      case '8': return "####.#####.####";
      case '9': return "####.####..####";
      case '.': return ".............#.";
      case '-': return "......###......";
      case 'e': return "####.#####..###";
      default: return "...............";
    }
  }
  int w_, h_;
  std::vector<unsigned char> pixels_;
};

constexpr int kLeft = 70, kRight = 20, kTop = 20, kBottom = 30;

double transform(double v, bool log_y) { return log_y ? std::log10(v) : v; }

// Frame, and the min/max labels of both axes.
void draw_axes(Canvas& c, const ChartRange& r, bool log_y, bool x_labels) {
  const Rgb grey{120, 120, 120};
  const int x0 = kLeft, x1 = c.width() - kRight, y0 = c.height() - kBottom, y1 = kTop;
  c.line(x0, y0, x1, y0, grey);
  c.line(x0, y0, x0, y1, grey);
  auto label_y = [&](double v) { return plot_number(log_y ? std::pow(10.0, v) : v); };
  c.text(4, y1, label_y(r.y1));
  c.text(4, y0 - 10, label_y(r.y0));
  if (x_labels) {
    c.text(x0, y0 + 8, plot_number(r.x0));
    const std::string right = plot_number(r.x1);
    c.text(x1 - int(right.size()) * 8, y0 + 8, right);
  }
}

ChartRange padded(double lo, double hi) {
  if (!(hi > lo)) hi = lo + 1;
  return {0, 0, lo, hi};
}

}  // namespace

const std::vector<std::pair<std::string, Rgb>>& plot_palette() {
  static const std::vector<std::pair<std::string, Rgb>> p = {
      {"blue", {31, 119, 180}},  {"orange", {255, 127, 14}}, {"green", {44, 160, 44}},
      {"red", {214, 39, 40}},    {"purple", {148, 103, 189}}, {"brown", {140, 86, 75}},
      {"pink", {227, 119, 194}}, {"grey", {127, 127, 127}}};
  return p;
}

std::string plot_number(double v) {
  char buf[32];
  if (v != 0 && (std::fabs(v) >= 1e5 || std::fabs(v) < 1e-3)) std::snprintf(buf, sizeof buf, "%.1e", v);
  else std::snprintf(buf, sizeof buf, "%.4g", v);
  std::string s = buf;
  s.erase(std::remove(s.begin(), s.end(), '+'), s.end());
  return s;
}

ChartRange line_chart(const std::vector<LineSeries>& series, bool log_y, int width, int height,
                      const std::string& path) {
  double xl = std::numeric_limits<double>::infinity(), xh = -xl, yl = xl, yh = -xl;
  for (const auto& s : series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (log_y && !(s.y[i] > 0)) continue;
      xl = std::min(xl, s.x[i]), xh = std::max(xh, s.x[i]);
      yl = std::min(yl, transform(s.y[i], log_y)), yh = std::max(yh, transform(s.y[i], log_y));
    }
  NWQ_CHECK(xh >= xl, path, ": nothing to plot");
  ChartRange r = padded(yl, yh);
  r.x0 = xl, r.x1 = xh > xl ? xh : xl + 1;
  Canvas c(width, height);
  auto px = [&](double x) { return kLeft + (x - r.x0) / (r.x1 - r.x0) * (width - kLeft - kRight); };
  auto py = [&](double y) {
    return height - kBottom - (transform(y, log_y) - r.y0) / (r.y1 - r.y0) * (height - kTop - kBottom);
  };
  for (const auto& s : series)
    for (size_t i = 1; i < s.x.size(); ++i)
      if (!log_y || (s.y[i - 1] > 0 && s.y[i] > 0))
        c.line(px(s.x[i - 1]), py(s.y[i - 1]), px(s.x[i]), py(s.y[i]), s.color);
  draw_axes(c, r, log_y, true);
  c.save(path);
  return r;
}

ChartRange bar_chart(const std::vector<BarSeries>& series, bool log_y, int width, int height,
                     const std::string& path) {
  NWQ_CHECK(!series.empty() && !series[0].values.empty(), path, ": nothing to plot");
  const size_t groups = series[0].values.size();
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& s : series)
    for (double v : s.values)
      if (!log_y || v > 0) lo = std::min(lo, transform(v, log_y)), hi = std::max(hi, transform(v, log_y));
  ChartRange r = padded(log_y ? lo - 0.2 : std::min(lo, 0.0), hi);
  r.x0 = 0, r.x1 = double(groups);
  Canvas c(width, height);
  const double group_w = double(width - kLeft - kRight) / groups;
  const double bar_w = group_w * 0.8 / series.size();
  for (size_t g = 0; g < groups; ++g)
    for (size_t k = 0; k < series.size(); ++k) {
      const double v = series[k].values[g];
      if (log_y && !(v > 0)) continue;
      const double frac = (transform(v, log_y) - r.y0) / (r.y1 - r.y0);
      const int x = int(kLeft + g * group_w + group_w * 0.1 + k * bar_w);
      const int top = int(height - kBottom - frac * (height - kTop - kBottom));
      c.fill(x, top, x + std::max(1, int(bar_w) - 1), height - kBottom, series[k].color);
    }
  draw_axes(c, r, log_y, false);
  c.save(path);
  return r;
}

}  // namespace nwq
