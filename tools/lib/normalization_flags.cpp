// Normalization flags: strict parsing, the flag > checkpoint > data-kind-default precedence and
// the lines that tell the user which one a command used.
#include "tools/lib/normalization_flags.h"

#include <cstdio>

#include "core/error.h"
#include "data/normalization.h"

namespace nwq {

namespace {

std::string metadata_value(const SafetensorsMetadata* metadata, const std::string& key) {
  if (!metadata) return "";
  for (const auto& [k, v] : *metadata)
    if (k == key) return v;
  return "";
}

// One of mean/std: the flag's values, else the checkpoint's, else empty (the default).
std::vector<float> choose(const ArgParser& a, const std::string& key,
                          const SafetensorsMetadata* checkpoint, const std::string& path,
                          std::string& from) {
  const std::string flag = "--" + key, spec = a.get("--data");
  const bool positive = key == "std";
  std::vector<float> stored;
  const std::string text = metadata_value(checkpoint, key);
  const std::string where = path + ": metadata '" + key + "'";
  if (!text.empty()) stored = parse_channel_values(text, where, positive);
  if (a.on(flag)) {
    std::vector<float> given = parse_channel_values(a.get(flag), flag, positive);
    check_channel_count(given, spec, flag);
    if (!stored.empty() && stored != given)
      std::fprintf(stderr,
                   "nwq: warning: %s %s differs from the checkpoint's %s %s (%s); using the flag\n",
                   flag.c_str(), format_channel_values(given).c_str(), key.c_str(),
                   format_channel_values(stored).c_str(), path.c_str());
    from = flag;
    return given;
  }
  if (stored.empty()) return {};
  check_channel_count(stored, spec, where + " (override it with " + flag + ")");
  from = "checkpoint " + path;
  return stored;
}

}  // namespace

void add_normalization_flags(ArgParser& a, bool from_weights) {
  const std::string fallback = from_weights ? "the --weights file's metadata, else " : "";
  a.add("--mean", "R,G,B", "",
        "Normalize mean of x/255, one value per channel (1 for fmnist, 3 for RGB data; default: " +
            fallback +
            "the data's own: fmnist 0.286, cifar10 CIFAR-10's, imagenet/folder ImageNet's)");
  a.add("--std", "R,G,B", "", "Normalize std, one value > 0 per channel (default: as --mean)");
}

NormalizationChoice choose_normalization(const ArgParser& a, const SafetensorsMetadata* checkpoint,
                                         const std::string& checkpoint_path) {
  NormalizationChoice c;
  c.mean = choose(a, "mean", checkpoint, checkpoint_path, c.mean_from);
  c.std = choose(a, "std", checkpoint, checkpoint_path, c.std_from);
  return c;
}

void report_normalization(const NormalizationChoice& c, const DataSplits& data) {
  const std::string fallback = data.name + " default";
  const std::string mean_from = c.mean_from.empty() ? fallback : c.mean_from;
  const std::string std_from = c.std_from.empty() ? fallback : c.std_from;
  std::string from;
  if (mean_from == std_from)
    from = mean_from;
  else if (c.mean_from == "--mean" && c.std_from == "--std")
    from = "--mean/--std";
  else
    from = "mean: " + mean_from + ", std: " + std_from;
  std::fprintf(stderr, "normalization: mean %s std %s (%s)\n",
               format_channel_values(data.mean).c_str(), format_channel_values(data.std).c_str(),
               from.c_str());
}

SafetensorsMetadata normalization_metadata(const DataSplits& data) {
  return {{"mean", format_channel_values(data.mean)}, {"std", format_channel_values(data.std)}};
}

Json channel_values_json(const std::vector<float>& values) {
  Json out = Json::array();
  for (float v : values) out.push_back(Json(v));
  return out;
}

}  // namespace nwq
