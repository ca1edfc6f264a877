// `nwq info FILE`: tensors (name, dtype, shape), parameter count, bytes and metadata of a
// safetensors file, as a table or (--json) one JSON line.
#include <cstdio>

#include "core/error.h"
#include "core/file_util.h"
#include "core/json.h"
#include "core/safetensors.h"
#include "core/tensor_io.h"
#include "core/torch_checkpoint.h"
#include "data/normalization.h"
#include "quant/export.h"
#include "tools/lib/commands.h"
#include "tools/lib/args.h"

namespace nwq {

static std::string metadata_value(const SafetensorsFile& file, const std::string& key) {
  for (const auto& [k, v] : file.metadata)
    if (k == key) return v;
  return "";
}

// {"mean": [...], "std": [...]} from the `mean`/`std` metadata (as text when it does not parse).
static Json normalization_json(const std::string& mean, const std::string& stddev) {
  Json out = Json::object();
  for (const auto& [key, text] : {std::pair{"mean", mean}, std::pair{"std", stddev}}) {
    if (text.empty()) continue;
    try {
      Json values = Json::array();
      for (float v : parse_channel_values(text, key, false)) values.push_back(Json(v));
      out.set(key, values);
    } catch (const Error&) {
      out.set(key, Json(text));
    }
  }
  return out;
}

static std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int cmd_info(const std::vector<std::string>& all_args) {
  ArgParser args("info", "Lists the tensors and metadata of a safetensors FILE.");
  args.add("--file", "FILE", "", "the safetensors file (or give it as the first word)");
  args.add_switch("--json", "print one JSON line instead of a table");
  std::vector<std::string> rest = all_args;
  if (!rest.empty() && rest[0].rfind("--", 0) != 0) rest[0] = "--file=" + rest[0];
  args.parse(rest);
  if (args.help_requested()) {
    std::fputs(args.help().c_str(), stdout);
    return 0;
  }
  NWQ_CHECK(args.on("--file"), "info: give a safetensors file: nwq info FILE");
  std::string path = args.get("--file");
  NWQ_CHECK(!looks_like_torch_checkpoint(read_file_bytes(path)), path,
            ": a torch.save checkpoint; nwq info reads safetensors: run nwq convert ", path,
            " OUT.safetensors first (eval, quantize and train read it as it is)");
  SafetensorsFile file = read_safetensors(path);
  int64_t params = 0;
  uint64_t bytes = 0;
  Json tensors = Json::array();
  for (const SafetensorsEntry& e : file.entries) {
    int64_t n = 1;
    for (int64_t d : e.shape) n *= d;
    params += n;
    bytes += e.end - e.begin;
    Json shape = Json::array();
    for (int64_t d : e.shape) shape.push_back(Json(d));
    tensors.push_back(Json::object({{"name", e.name}, {"dtype", dtype_traits(e.dtype).safetensors_name},
                                    {"shape", shape}}));
  }
  Json meta = Json::object();
  for (const auto& [k, v] : file.metadata) meta.set(k, Json(v));
  const std::string mean = metadata_value(file, "mean"), stddev = metadata_value(file, "std");
  if (args.on("--json")) {
    Json out = Json::object({{"file", path}, {"tensors", Json(int64_t(file.entries.size()))},
                             {"elements", Json(params)}, {"bytes", Json(int64_t(bytes))},
                             {"metadata", meta}, {"entries", tensors}});
    if (!mean.empty() || !stddev.empty()) out.set("normalization", normalization_json(mean, stddev));
    std::printf("%s\n", to_json(out).c_str());
    return 0;
  }
  std::printf("%s: %zu tensors, %lld elements, %.2f MB of data\n", path.c_str(),
              file.entries.size(), static_cast<long long>(params), double(bytes) / 1e6);
  for (const SafetensorsEntry& e : file.entries) {
    std::printf("  %-48s %-4s %s\n", e.name.c_str(), dtype_traits(e.dtype).safetensors_name,
                shape_text(e.shape).c_str());
  }
  if (!file.metadata.empty()) std::printf("metadata:\n");
  for (const auto& [k, v] : file.metadata) std::printf("  %s: %s\n", k.c_str(), v.c_str());
  if (!mean.empty() || !stddev.empty())
    std::printf("normalization: mean %s std %s\n", mean.empty() ? "(data default)" : mean.c_str(),
                stddev.empty() ? "(data default)" : stddev.c_str());
  TensorFile loaded = load_safetensors(path);
  if (is_quantized_file(loaded)) std::printf("%s", describe_quantized(loaded).c_str());
  return 0;
}

}  // namespace nwq
