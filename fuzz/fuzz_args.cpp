// libFuzzer target: the CLI flag parser (tools/lib/args.h ArgParser) with flags declared as the
// nwq commands declare them; the input is split on NUL bytes into arguments.
#include <cstdint>

#include "fuzz/fuzz_util.h"
#include "tools/lib/args.h"

namespace {

nwq::ArgParser make_parser() {
  nwq::ArgParser a("quantize", "fuzzing ArgParser");
  a.add("--weights", "FILE", "", "weights");
  a.add("--data", "SPEC", "fmnist", "data");
  a.add("--method", "M", "nwq", "preset");
  a.add("--wbits", "B", "4", "weight bits");
  a.add("--batch", "N", "32", "batch size");
  a.add("--limit", "N", "-1", "images");
  a.add("--seed", "N", "0", "seed");
  a.add("--lr-round", "X", "1e-3", "rate");
  a.add("--drop-p", "X", "0.5", "probability");
  a.add("--learn-act-steps", "yes|no", "", "switch as a value");
  a.add_switch("--json", "json line");
  a.add_switch("--no-8bit-first", "switch");
  return a;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args;
  std::string current;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      args.push_back(current);
      current.clear();
    } else {
      current.push_back(static_cast<char>(data[i]));
    }
  }
  if (size > 0) args.push_back(current);

  nwq::ArgParser a = make_parser();
  if (!nwq_fuzz::expect_error_or_success([&] { a.parse(args); })) return 0;
  if (a.help_requested() && a.help().empty()) std::abort();
  // Each read on its own: one bad flag value must not hide the others.
  nwq_fuzz::expect_error_or_success([&] { a.get("--weights"); });
  nwq_fuzz::expect_error_or_success([&] { a.get_choice("--method", {"rtn", "adaround", "brecq", "qdrop", "nwq"}); });
  nwq_fuzz::expect_error_or_success([&] { a.get_choice("--learn-act-steps", {"yes", "no"}); });
  nwq_fuzz::expect_error_or_success([&] {
    const int64_t v = a.get_int("--wbits", 2, 8);
    if (v < 2 || v > 8) std::abort();
  });
  nwq_fuzz::expect_error_or_success([&] { a.get_int("--batch", 1, 1 << 16); });
  nwq_fuzz::expect_error_or_success([&] { a.get_int("--limit", -1, INT64_MAX); });
  nwq_fuzz::expect_error_or_success([&] { a.get_int("--seed", INT64_MIN, INT64_MAX); });
  nwq_fuzz::expect_error_or_success([&] {
    const double v = a.get_double("--drop-p", 0, 1);
    if (!(v >= 0 && v <= 1)) std::abort();
  });
  nwq_fuzz::expect_error_or_success([&] { a.get_double("--lr-round", 1e-12, 10); });
  nwq_fuzz::expect_error_or_success([&] { a.get_double("--data", -1e308, 1e308); });
  if (a.on("--json") != a.has("--json")) std::abort();  // switches have no default
  a.has("--no-8bit-first");
  return 0;
}
