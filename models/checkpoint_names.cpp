// Wrapper prefixes and missing BatchNorm counters in foreign state_dicts
// (see models/checkpoint_names.h).
#include "models/checkpoint_names.h"

#include <unordered_set>

namespace nwq {

namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The wrapper prefix that every key starts with, or "" when there is none.
std::string common_wrapper_prefix(const NamedTensors& state) {
  if (state.empty()) return "";
  for (const std::string& prefix : wrapper_prefixes()) {
    bool all = true;
    for (const auto& entry : state) all = all && starts_with(entry.first, prefix);
    if (all) return prefix;
  }
  return "";
}

}  // namespace

const std::vector<std::string>& wrapper_prefixes() {
  static const std::vector<std::string> prefixes = {"module.", "model.", "_orig_mod."};
  return prefixes;
}

NamedTensors strip_wrapper_prefixes(const NamedTensors& state) {
  NamedTensors out = state;
  for (std::string prefix = common_wrapper_prefix(out); !prefix.empty();
       prefix = common_wrapper_prefix(out)) {
    for (auto& entry : out) entry.first = entry.first.substr(prefix.size());
  }
  return out;
}

NamedTensors add_missing_bn_counters(const NamedTensors& state) {
  const std::string var = "running_var", counter = "num_batches_tracked";
  std::unordered_set<std::string> names;
  for (const auto& entry : state) names.insert(entry.first);
  NamedTensors out;
  for (const auto& entry : state) {
    out.push_back(entry);
    if (!ends_with(entry.first, var)) continue;
    std::string name = entry.first.substr(0, entry.first.size() - var.size()) + counter;
    if (names.count(name) == 0) out.emplace_back(name, Tensor::scalar(0, DType::I64));
  }
  return out;
}

}  // namespace nwq
