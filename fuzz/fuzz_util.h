// Helpers shared by the libFuzzer targets in fuzz/: running a parser so that nwq::Error (the
// expected answer to bad input) is swallowed and anything else reaches libFuzzer as a finding.
#pragma once
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/error.h"

namespace nwq_fuzz {

// NWQ_FUZZ_VERBOSE=1 prints every rejection message (for triage and for checking which check a
// seed reaches: build-fuzz/fuzz_<name> FILE).
inline bool verbose() {
  static const bool on = std::getenv("NWQ_FUZZ_VERBOSE") != nullptr;
  return on;
}

// NWQ_FUZZ_KNOWN=1 replays the known findings (fuzz/findings/, docs/RELIABILITY.md) instead of
// stepping around them, so that each saved input shows its report.
inline bool replay_known() {
  static const bool on = std::getenv("NWQ_FUZZ_KNOWN") != nullptr;
  return on;
}

// Calls fn(); an nwq::Error is the documented way to reject input and is ignored. Other
// exceptions propagate, so libFuzzer reports them (as "uncaught exception" / deadly signal).
template <class Fn>
bool expect_error_or_success(Fn&& fn) {
  try {
    fn();
    if (verbose()) std::fprintf(stderr, "nwq-fuzz: accepted\n");
    return true;
  } catch (const nwq::Error& e) {
    if (verbose()) std::fprintf(stderr, "nwq-fuzz: nwq::Error: %s\n", e.what());
    return false;
  }
}

inline std::vector<uint8_t> to_bytes(const uint8_t* data, size_t size) {
  return std::vector<uint8_t>(data, data + size);
}

// A file in /dev/shm (tmpfs) unique to this process, for readers that only take a path.
// Rewritten on every input; removed at exit.
class ScratchFile {
 public:
  explicit ScratchFile(const std::string& stem)
      : path_(std::string(access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") + "/nwq-fuzz-" +
              stem + "-" + std::to_string(getpid())) {}
  ~ScratchFile() { std::remove(path_.c_str()); }
  const std::string& write(const uint8_t* data, size_t size) {
    FILE* f = std::fopen(path_.c_str(), "wb");
    if (f == nullptr) std::abort();  // the harness itself is broken, not the code under test
    if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
    std::fclose(f);
    return path_;
  }

 private:
  std::string path_;
};

}  // namespace nwq_fuzz
