// Regression tests for what the fuzzers and their authors found (fuzz/findings/,
// docs/RELIABILITY.md): each input is now refused with a clear error instead of undefined
// behaviour or a crash.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>

#include "core/error.h"
#include "core/json.h"
#include "core/tensor.h"
#include "quant/config.h"
#include "quant/export.h"
#include "tools/lib/commands.h"

using namespace nwq;

TEST_CASE("fuzz regressions: zero-element shapes whose strides would overflow are refused") {
  const int64_t big = int64_t{1} << 62;
  CHECK_THROWS_WITH_AS(Tensor::empty({0, big, big}), doctest::Contains("too many elements"), Error);
  CHECK(Tensor::empty({0, 5, 7}).numel() == 0);  // ordinary empty tensors still work
}

TEST_CASE("fuzz regressions: unpack_codes checks the count before multiplying") {
  const std::vector<uint8_t> bytes(4, 0);
  CHECK_THROWS_WITH_AS(unpack_codes(bytes, int64_t{1} << 61, 8, "codes"),
                       doctest::Contains("cannot hold"), Error);
}

TEST_CASE("fuzz regressions: config integers out of int range are refused, not narrowed") {
  Json j = preset_config("nwq", "resnet20").to_json();
  j.set("wbits", int64_t{4294967300});
  CHECK_THROWS_WITH_AS(QuantConfig::from_json(j), doctest::Contains("wbits"), Error);
  CHECK_THROWS_WITH_AS(cmd_quantize({"--weights", "models/weights/fmnist_resnet20.safetensors",
                                     "--candidates", "1e300:1"}),
                       doctest::Contains("--candidates"), Error);
}
