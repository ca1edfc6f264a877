// The Markdown writers of `make tables` (scripts/results_table.py, compare_table.py,
// replace_block.py) on summaries written here: mean ± std per cell, "A → B" comparisons, blocks.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.h"
#include "tests/temp_dir.h"
#include "tests/quant_run_util.h"

using namespace nwq;
using namespace nwq::test;

namespace {

// One `nwq quantize --json` summary line in dir.
void summary(const std::string& dir, const std::string& method, int w, int a, int seed, double top1,
             double seconds = 10) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/" + method + str("_w", w, "a", a, "_s", seed, ".json"))
      << str("{\"model\":\"resnet20\",\"data\":\"cifar10\",\"method\":\"", method, "\",\"wbits\":",
             w, ",\"abits\":", a, ",\"seed\":", seed, ",\"fp_top1\":88.5,\"quant_top1\":", top1,
             ",\"seconds\":", seconds, "}\n");
}

// Runs a shell command; its standard output (stderr to err when given) and exit status.
std::string run(const std::string& cmd, int* status, const std::string& err = "/dev/null") {
  const std::string out = err + ".out";
  *status = std::system((cmd + " > '" + out + "' 2> " + err).c_str());
  return slurp(out);
}

bool have_python() { return std::system("python3 -c pass > /dev/null 2>&1") == 0; }

}  // namespace

TEST_CASE("table scripts: results_table gives mean ± std per cell, compare_table A → B") {
  if (!have_python()) {
    MESSAGE("skipped: needs python3 (as `make tables` does)");
    return;
  }
  TempDir dir;
  const std::string a = dir / "a", b = dir / "b";
  summary(a, "nwq", 2, 4, 0, 80.0, 10);
  summary(a, "nwq", 2, 4, 1, 82.0, 30);
  summary(a, "qdrop", 2, 4, 0, 70.0, 20);
  summary(a, "qdrop", 4, 4, 0, 86.0, 20);
  std::ofstream(a + "/nwq_w2a4_s0.report.json") << "{\"not\":\"a summary\"}";  // skipped
  int status = 0;
  const std::string table = run("python3 scripts/results_table.py " + a, &status);
  REQUIRE(status == 0);
  CHECK(table.find("### resnet20 on cifar10 (FP top-1 88.50%)") != std::string::npos);
  CHECK(table.find("| method | W4A4 | W2A4 | median wall time per run |") != std::string::npos);
  // nwq: mean 81, sample std sqrt(2) = 1.41, median of 10 and 30 s = 20 s; no W4A4 run.
  CHECK(table.find("| nwq | - | 81.00 ± 1.41 (n=2) | 20 s |") != std::string::npos);
  CHECK(table.find("| qdrop | 86.00 (n=1) | 70.00 (n=1) | 20 s |") != std::string::npos);

  summary(b, "nwq", 2, 4, 0, 79.0);
  summary(b, "nwq", 2, 4, 1, 85.0);
  summary(b, "qdrop", 2, 4, 0, 75.0);
  const std::string cmp = run("python3 scripts/compare_table.py " + a + " " + b, &status);
  REQUIRE(status == 0);
  CHECK(cmp.find("| method | W2A4 |") != std::string::npos);  // W4A4 is only in A
  CHECK(cmp.find("| qdrop | 70.00 → **75.00** |") != std::string::npos);  // higher in B: bold
  CHECK(cmp.find("| nwq | 81.00 → **82.00** ± 4.24 (n=2) |") != std::string::npos);  // sd of 79, 85
  summary(dir / "c", "nwq", 2, 2, 0, 50.0);
  run("python3 scripts/compare_table.py " + a + " " + (dir / "c"), &status, dir / "err");
  CHECK(status != 0);
  CHECK(slurp(dir / "err").find("no run is in both") != std::string::npos);
}

TEST_CASE("table scripts: replace_block rewrites only its block and refuses a missing marker") {
  if (!have_python()) {
    MESSAGE("skipped: needs python3 (as `make tables` does)");
    return;
  }
  TempDir dir;
  const std::string md = dir / "R.md";
  const std::string before = "# R\n<!-- table:x -->\nold x\n<!-- /table -->\nkeep\n"
                             "<!-- table:y -->\nold y\n<!-- /table -->\n";
  std::ofstream(md) << before;
  int status = 0;
  run("printf 'new x\\n' | python3 scripts/replace_block.py " + md + " x", &status);
  CHECK(status == 0);
  CHECK(slurp(md) == "# R\n<!-- table:x -->\nnew x\n<!-- /table -->\nkeep\n"
                     "<!-- table:y -->\nold y\n<!-- /table -->\n");
  const std::string now = slurp(md);
  run("echo z | python3 scripts/replace_block.py " + md + " z", &status, dir / "err");
  CHECK(status != 0);
  CHECK(slurp(dir / "err").find("no '<!-- table:z -->' marker") != std::string::npos);
  CHECK(slurp(md) == now);  // untouched
}

TEST_CASE("table scripts: fidelity_table pairs nwq and harness runs per cell") {
  if (!have_python()) {
    MESSAGE("skipped: needs python3");
    return;
  }
  TempDir dir;
  const std::string d = dir / "fidelity";
  std::filesystem::create_directories(d);
  auto line = [&](const std::string& name, double top1) {
    std::ofstream(d + "/" + name + ".json") << "some log line\n{\"quant_top1\": " << top1 << "}\n";
  };
  line("nwq_r20_qdrop_w2a2_s0", 77.0);
  line("nwq_r20_qdrop_w2a2_s1", 79.0);
  line("torch_r20_qdrop_w2a2_s0", 77.5);
  line("nwq_r20_nwq_w4a4_s0", 86.0);
  line("nwq_r20_qdrop_w2a2_s0_old", 10.0);  // not a result name: ignored
  int status = 0;
  const std::string table = run("python3 scripts/fidelity_table.py " + d, &status);
  REQUIRE(status == 0);
  CHECK(table.find("**ResNet-20**") != std::string::npos);
  CHECK(table.find("| QDrop | W2A2 | 77.50 (n=1) | 78.00 ± 1.41 (n=2) | +0.50 |") != std::string::npos);
  CHECK(table.find("| NWQ | W4A4 | — | 86.00 (n=1) | — |") != std::string::npos);
  CHECK(table.find("MobileNetV2") == std::string::npos);  // no runs, no table
  run("python3 scripts/fidelity_table.py " + (dir / "missing"), &status);
  CHECK(status != 0);
}
