// `nwq plot --reports A.json,B.json --out DIR`: PNG charts from `nwq quantize --report` files —
// loss curves, per-block error before/after reconstruction, the share of weights rounded away from
// nearest and the hardening gap per layer — plus a Markdown snippet (images, legend, axis ranges).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>

#include "core/error.h"
#include "core/json.h"
#include "tools/lib/args.h"
#include "tools/lib/cli_common.h"
#include "tools/lib/commands.h"
#include "tools/lib/plot.h"

namespace nwq {

namespace {

struct Report {
  std::string path, label;
  Json json;
};

Report read_report(const std::string& path) {
  std::ifstream in(path);
  NWQ_CHECK(in.good(), path, ": cannot open the report");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  Report r{path, "", parse_json(text, path)};
  for (const char* key : {"model", "units", "block_errors", "layers", "config"})
    NWQ_CHECK(r.json.contains(key), path, ": not an `nwq quantize --report` file (no '", key, "')");
  const Json& c = r.json.at("config");
  r.label = str(c.at("method").as_string(), " W", c.at("wbits").as_int64(), "A",
                c.at("abits").as_int64(), " seed ", c.at("seed").as_int64());
  return r;
}

// Units run one after another: iterations count on across them.
LineSeries loss_series(const Report& r, Rgb color) {
  LineSeries s{color, {}, {}};
  double offset = 0;
  for (const Json& u : r.json.at("units").as_array()) {
    const Json &it = u.at("curve_iter"), &rec = u.at("curve_rec");
    for (size_t i = 0; i < it.size(); ++i) {
      s.x.push_back(offset + it[i].as_double());
      s.y.push_back(rec[i].as_double());
    }
    offset += u.at("iters").as_double();
  }
  return s;
}

std::vector<double> column(const Json& rows, const char* key) {
  std::vector<double> v;
  for (const Json& row : rows.as_array()) v.push_back(row.at(key).as_double());
  return v;
}

std::string range_text(const ChartRange& r, bool log_y) {
  auto y = [&](double v) { return plot_number(log_y ? std::pow(10.0, v) : v); };
  return str("y from ", y(r.y0), " to ", y(r.y1), log_y ? " (log scale)" : "");
}

}  // namespace

int cmd_plot(const std::vector<std::string>& args) {
  ArgParser a("plot", "Draws PNG charts from quantization reports (nwq quantize --report).");
  a.add("--reports", "A.json,B.json", "", "comma-separated report files (one colour each)");
  a.add("--out", "DIR", "", "folder for loss.png, block_errors.png, away_from_nearest.png, "
        "hardening_gap.png");
  a.parse(args);
  if (a.help_requested()) {
    std::fputs(a.help().c_str(), stdout);
    return 0;
  }
  std::vector<Report> reports;
  std::string list = a.get("--reports");
  for (size_t start = 0; start <= list.size();) {
    size_t comma = std::min(list.find(',', start), list.size());
    if (comma > start) reports.push_back(read_report(list.substr(start, comma - start)));
    start = comma + 1;
  }
  NWQ_CHECK(!reports.empty() && reports.size() <= plot_palette().size(), "--reports: give 1 to ",
            plot_palette().size(), " report files");
  const std::string dir = a.get("--out");
  check_output_path(dir + "/loss.png", "--out");
  std::vector<LineSeries> losses;
  std::vector<BarSeries> after, away, gap;
  bool all_have_gap = true;  // reports written before the hardening gap existed lack it
  const Json& first_errors = reports[0].json.at("block_errors");
  std::vector<BarSeries> errors = {{{190, 190, 190}, column(first_errors, "before")}};
  std::string legend;
  for (size_t i = 0; i < reports.size(); ++i) {
    const auto& [name, color] = plot_palette()[i];
    legend += str("- ", name, ": ", reports[i].label, " (`", reports[i].path, "`)\n");
    if (!reports[i].json.at("units").as_array().empty()) losses.push_back(loss_series(reports[i], color));
    NWQ_CHECK(reports[i].json.at("block_errors").size() == first_errors.size(), reports[i].path,
              ": another model's blocks than ", reports[0].path);
    errors.push_back({color, column(reports[i].json.at("block_errors"), "after")});
    const Json& layers = reports[i].json.at("layers");
    away.push_back({color, column(layers, "away_from_nearest")});
    all_have_gap = all_have_gap && (layers.size() == 0 || layers[0].contains("hardening_gap"));
    if (all_have_gap) gap.push_back({color, column(layers, "hardening_gap")});
  }
  std::printf("Colours:\n%s\n", legend.c_str());
  if (!losses.empty()) {
    ChartRange r = line_chart(losses, true, 900, 360, dir + "/loss.png");
    std::printf("![loss curves](%s/loss.png)\n\nReconstruction loss per sampled iteration (units "
                "one after another), %s; x from %s to %s iterations.\n\n",
                dir.c_str(), range_text(r, true).c_str(), plot_number(r.x0).c_str(),
                plot_number(r.x1).c_str());
  }
  ChartRange r = bar_chart(errors, true, 900, 360, dir + "/block_errors.png");
  std::printf("![block errors](%s/block_errors.png)\n\nMean squared error of each block's output "
              "against the FP network, per block in order; light grey: after calibration (nearest "
              "rounding, first report), colours: after reconstruction; %s.\n\n",
              dir.c_str(), range_text(r, true).c_str());
  r = bar_chart(away, false, 900, 360, dir + "/away_from_nearest.png");
  std::printf("![away from nearest](%s/away_from_nearest.png)\n\nShare of each layer's weights "
              "whose code differs from round-to-nearest, per layer in order; %s.\n",
              dir.c_str(), range_text(r, false).c_str());
  if (all_have_gap) {
    r = bar_chart(gap, false, 900, 360, dir + "/hardening_gap.png");
    std::printf("\n![hardening gap](%s/hardening_gap.png)\n\nHardening gap per layer in order: "
                "the mean |soft code - hardened code| in grid steps when the rounding variables "
                "were hardened (0: decided; 0.5: every weight midway); %s.\n",
                dir.c_str(), range_text(r, false).c_str());
  }
  return 0;
}

}  // namespace nwq
