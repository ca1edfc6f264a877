// The PNG charts of `nwq plot`: files decode to the asked size with the series' colours drawn,
// axis numbers print in the digit font's alphabet, and bad report files are refused by name.
#include <doctest/doctest.h>
#include <stb/stb_image.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "image_test_util.h"
#include "tools/lib/commands.h"
#include "tools/lib/plot.h"

using namespace nwq;

namespace {

// How many pixels of the PNG at path have exactly colour c; also checks its size.
int count_colour(const std::string& path, int w, int h, Rgb c) {
  int pw = 0, ph = 0, ch = 0;
  unsigned char* px = stbi_load(path.c_str(), &pw, &ph, &ch, 3);
  REQUIRE(px != nullptr);
  CHECK(pw == w);
  CHECK(ph == h);
  int n = 0;
  for (int i = 0; i < pw * ph; ++i) n += px[3 * i] == c[0] && px[3 * i + 1] == c[1] && px[3 * i + 2] == c[2];
  stbi_image_free(px);
  return n;
}

}  // namespace

TEST_CASE("plot: line and bar charts are PNGs with the series drawn") {
  test::TempDir dir;
  const Rgb red = plot_palette()[3].second, blue = plot_palette()[0].second;
  ChartRange r = line_chart({{red, {0, 1, 2, 3}, {100, 10, 1, 0.1}}}, true, 300, 200, dir / "l.png");
  CHECK(r.y0 == doctest::Approx(-1));  // log10(0.1)
  CHECK(r.y1 == doctest::Approx(2));
  CHECK(count_colour(dir / "l.png", 300, 200, red) > 100);
  bar_chart({{blue, {1, 2, 3}}, {red, {3, 2, 1}}}, false, 240, 120, dir / "b.png");
  CHECK(count_colour(dir / "b.png", 240, 120, blue) > 100);
  CHECK(count_colour(dir / "b.png", 240, 120, red) > 100);
  CHECK_THROWS_WITH_AS(line_chart({}, false, 10, 10, dir / "x.png"),
                       doctest::Contains("nothing to plot"), Error);
}

TEST_CASE("plot: numbers use only characters the digit font has") {
  for (double v : {0.0, 1.0, -2.5, 1234.5, 1e-5, 3.2e7, 0.0312}) {
    const std::string s = plot_number(v);
    CAPTURE(s);
    CHECK(s.find_first_not_of("0123456789.-e") == std::string::npos);
  }
  CHECK(plot_number(1e-5) == "1.0e-05");
}

TEST_CASE("plot: report files that are missing or of another kind are refused by name") {
  test::TempDir dir;
  CHECK_THROWS_WITH_AS(cmd_plot({"--reports", dir / "none.json", "--out", dir.path()}),
                       doctest::Contains("none.json"), Error);
  std::ofstream(dir / "other.json") << "{\"model\":\"resnet20\"}";
  CHECK_THROWS_WITH_AS(cmd_plot({"--reports", dir / "other.json", "--out", dir.path()}),
                       doctest::Contains("not an `nwq quantize --report` file"), Error);
}

namespace {

// A minimal `nwq quantize --report` file: two blocks, two layers, one unit of 3 curve points.
// The loss curve is scaled by gap + 1 so that two reports' curves do not cover each other.
std::string tiny_report(bool with_gap, double gap) {
  const std::string layer_gap = with_gap ? str(",\"hardening_gap\":", gap) : "";
  return str("{\"model\":\"resnet20\",\"config\":{\"method\":\"adaround\",\"wbits\":2,\"abits\":4,"
             "\"seed\":0},\"block_errors\":[{\"block\":\"stem\",\"before\":0.5,\"after\":0.2},"
             "{\"block\":\"head\",\"before\":2,\"after\":1}],\"layers\":[{\"layer\":\"conv1\","
             "\"away_from_nearest\":0.1",
             layer_gap, "},{\"layer\":\"fc\",\"away_from_nearest\":0.05", layer_gap,
             "}],\"units\":[{\"unit\":\"conv1\",\"iters\":10,\"curve_iter\":[0,5,9],"
             "\"curve_rec\":[", 3 * (gap + 1), ",", 2 * (gap + 1), ",", gap + 1,
             "],\"curve_reg\":[0,0,0]}]}");
}

}  // namespace

TEST_CASE("plot: reports give the four charts; the hardening gap only when every report has it") {
  test::TempDir dir;
  std::ofstream(dir / "a.json") << tiny_report(true, 0.4);
  std::ofstream(dir / "b.json") << tiny_report(true, 0.1);
  std::ofstream(dir / "old.json") << tiny_report(false, 0);
  const Rgb first = plot_palette()[0].second, second = plot_palette()[1].second;
  std::filesystem::create_directories(dir / "ab");
  std::filesystem::create_directories(dir / "old");
  CHECK(cmd_plot({"--reports", (dir / "a.json") + "," + (dir / "b.json"), "--out", dir / "ab"}) == 0);
  for (const char* png : {"loss.png", "block_errors.png", "away_from_nearest.png"})
    CHECK_MESSAGE(count_colour(dir / (std::string("ab/") + png), 900, 360, first) > 0, std::string(png));
  // 0.4 against 0.1: the first report's bars are four times as tall as the second's.
  const int tall = count_colour(dir / "ab/hardening_gap.png", 900, 360, first),
            short_bars = count_colour(dir / "ab/hardening_gap.png", 900, 360, second);
  CHECK(short_bars > 0);
  CHECK(double(tall) / short_bars == doctest::Approx(4.0).epsilon(0.1));
  CHECK(cmd_plot({"--reports", (dir / "a.json") + "," + (dir / "old.json"), "--out", dir / "old"}) == 0);
  CHECK(std::ifstream(dir / "old/away_from_nearest.png").good());
  CHECK_FALSE(std::ifstream(dir / "old/hardening_gap.png").good());
}
