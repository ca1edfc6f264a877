// Helpers for tests that run `nwq quantize` as a separate process: the nwq binary beside the test
// binary, file reads, and the unit a run-state file has reached.
#pragma once
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/json.h"
#include "core/tensor_io.h"

namespace nwq::test {

inline bool readable(const std::string& path) { return std::ifstream(path).good(); }

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The nwq binary beside this test binary (make test builds both into the same folder).
inline std::string nwq_binary() {
  std::vector<char> buf(4096);
  ssize_t n = ::readlink("/proc/self/exe", buf.data(), buf.size() - 1);
  if (n <= 0) return "";
  std::string self(buf.data(), size_t(n));
  return self.substr(0, self.rfind('/') + 1) + "nwq";
}

// The unit the run state at path is at, or -1 while it is missing or being replaced.
inline int64_t state_unit(const std::string& path) {
  try {
    TensorFile f = load_safetensors(path);
    return parse_json(f.meta("where"), path).at("unit").as_int64();
  } catch (const Error&) {
    return -1;
  }
}

}  // namespace nwq::test
