// Small PNG charts for reports (docs/DESIGN.md section 8): line charts (loss curves) and grouped
// bar charts (per-block errors, per-layer rounding statistics), drawn on an RGB canvas with
// stb_image_write.
// Axis labels are the min and max values in a built-in 3x5 digit font; legends live in Markdown.
#pragma once
#include <array>
#include <string>
#include <vector>

namespace nwq {

using Rgb = std::array<unsigned char, 3>;
// A palette of distinct colours for series; its names go into legends.
const std::vector<std::pair<std::string, Rgb>>& plot_palette();

struct LineSeries {
  Rgb color;
  std::vector<double> x, y;
};
struct ChartRange {
  double x0, x1, y0, y1;
};
// Draws the series on width x height pixels; log_y plots log10(y) (values <= 0 skipped).
// Writes a PNG to path (throws naming it on failure) and returns the plotted ranges.
ChartRange line_chart(const std::vector<LineSeries>& series, bool log_y, int width, int height,
                      const std::string& path);

// One group of bars per category, one bar per series in each group.
struct BarSeries {
  Rgb color;
  std::vector<double> values;  // one per category
};
ChartRange bar_chart(const std::vector<BarSeries>& series, bool log_y, int width, int height,
                     const std::string& path);

// The number as the digit font can draw it: digits, '.', '-', 'e' ("0.0312", "1.2e-05").
std::string plot_number(double v);

}  // namespace nwq
