// Shared subcommand helpers.
#include "tools/lib/cli_common.h"

#include <cstdio>

#include "core/allocator.h"

namespace nwq {

Device device_from_flag(const ArgParser& args) {
  Device device = parse_device(args.get("--device"));
  NWQ_CHECK(device.is_cpu() || cuda_available(), "--device ", device.name(),
            ": this build has no CUDA backend or no GPU is visible");
  return device;
}

int workers_from_flag(const ArgParser& args) {
  return static_cast<int>(args.get_int("--workers", 0, 64));
}

ModelPtr build_model(const std::string& name, const DataSplits& data, uint64_t seed,
                     const std::string& weights_path) {
  ModelPtr model = create_model(name, data.num_classes, static_cast<int>(data.channels), seed);
  if (!weights_path.empty()) model->load(weights_path);
  return model;
}

void print_json_line(const Json& value) {
  std::printf("%s\n", to_json(value).c_str());
  std::fflush(stdout);
}

}  // namespace nwq
