// libFuzzer target: parse_json (core/json.h) on arbitrary text, and the round trip: a document
// that parses must serialize with to_json and parse back to an equal value (abort otherwise).
#include "core/json.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  nwq::Json value;
  if (!nwq_fuzz::expect_error_or_success([&] { value = nwq::parse_json(text, "fuzz.json"); })) return 0;
  // No nwq::Error is allowed from here on: parse_json never yields NaN or infinity.
  const std::string written = nwq::to_json(value);
  const nwq::Json again = nwq::parse_json(written, "fuzz.json round trip");
  if (again != value) std::abort();
  // The written form is a fixed point after one more round (numbers print shortest-exact).
  if (nwq::to_json(nwq::parse_json(nwq::to_json(again), "fuzz.json second round")) != nwq::to_json(again))
    std::abort();
  return 0;
}
