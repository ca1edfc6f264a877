// Normalization values as text: strict parsing (every entry a finite number, nothing left over)
// and shortest round-trip formatting, as core/json.cpp writes floats.
#include "data/normalization.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/error.h"

namespace nwq {

std::vector<float> parse_channel_values(const std::string& text, const std::string& what,
                                        bool positive) {
  std::vector<float> values;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? comma : comma - start);
    char* end = nullptr;
    const float v = item.empty() ? NAN : std::strtof(item.c_str(), &end);
    NWQ_CHECK(!item.empty() && end && *end == '\0' && std::isfinite(v), what,
              ": expected comma-separated numbers, one per channel (e.g. 0.4914,0.4822,0.4465), "
              "got '",
              text, "'");
    NWQ_CHECK(!positive || v > 0, what, ": values must be > 0, got '", text, "'");
    values.push_back(v);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return values;
}

std::string format_channel_values(const std::vector<float>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    char buffer[40];
    for (int precision = 6; precision <= 9; ++precision) {
      std::snprintf(buffer, sizeof(buffer), "%.*g", precision, double(values[i]));
      if (std::strtof(buffer, nullptr) == values[i]) break;
    }
    out += (i ? "," : "") + std::string(buffer);
  }
  return out;
}

int64_t data_spec_channels(const std::string& spec) {
  return spec.substr(0, spec.find(':')) == "fmnist" ? 1 : 3;
}

void check_channel_count(const std::vector<float>& values, const std::string& spec,
                         const std::string& what) {
  const int64_t channels = data_spec_channels(spec);
  NWQ_CHECK(int64_t(values.size()) == channels, what, ": ", values.size(),
            values.size() == 1 ? " value" : " values", " given, but --data ", spec, " images have ",
            channels, channels == 1 ? " channel (one value)" : " channels (one value each)");
}

}  // namespace nwq
