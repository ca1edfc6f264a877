// Shared subcommand helpers.
#include "tools/lib/cli_common.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "core/allocator.h"

namespace nwq {

void add_data_flags(ArgParser& a, bool normalization_from_weights) {
  a.add("--data", "SPEC", "fmnist", "data: fmnist[:DIR], cifar10:DIR, imagenet:DIR or folder:DIR");
  add_normalization_flags(a, normalization_from_weights);
}

void add_device_flags(ArgParser& a) {
  a.add("--device", "D", "cpu", "cpu or cuda[:N]");
  a.add_switch("--tf32", "allow TF32 tensor-core math in CUDA GEMMs (off: full F32)");
}

void add_loading_flags(ArgParser& a) {
  a.add("--workers", "N", "2", "data-loading threads");
  a.add("--bad-images", "MODE", "stop",
        "undecodable image files: stop (error naming the file) or skip (count and list them)");
}

void add_output_switches(ArgParser& a) {
  a.add_switch("--quiet", "no progress bars");
  a.add_switch("--json", "print one JSON line of results on stdout");
}

Device device_from_flag(const ArgParser& args) {
  Device device = parse_device(args.get("--device"));
  NWQ_CHECK(device.is_cpu() || cuda_available(), "--device ", device.name(),
            ": this build has no CUDA backend or no GPU is visible");
  NWQ_CHECK(!args.on("--tf32") || device.is_cuda(), "--tf32 needs --device cuda");
  if (device.is_cuda()) cuda_backend().set_tf32(args.on("--tf32"));
  return device;
}

DataOptions data_options_from_flags(const ArgParser& args, bool augment_train, bool load_train) {
  DataOptions o;
  o.augment_train = augment_train;
  o.load_train = load_train;
  o.bad_images = args.get_choice("--bad-images", {"stop", "skip"}) == "skip" ? BadImagePolicy::Skip
                                                                            : BadImagePolicy::Stop;
  o.threads = std::max(1, workers_from_flag(args));
  return o;
}

DataOptions data_options_from_flags(const ArgParser& args, bool augment_train, bool load_train,
                                    const NormalizationChoice& normalization) {
  DataOptions o = data_options_from_flags(args, augment_train, load_train);
  o.mean = normalization.mean;
  o.std = normalization.std;
  return o;
}

void report_skipped_images(const DataSplits& data) {
  if (data.skipped.empty()) return;
  std::fprintf(stderr, "skipped %zu undecodable image files:\n", data.skipped.size());
  for (size_t i = 0; i < data.skipped.size() && i < 5; ++i) {
    std::fprintf(stderr, "  %s: %s\n", data.skipped[i].path.c_str(), data.skipped[i].reason.c_str());
  }
}

int workers_from_flag(const ArgParser& args) {
  return static_cast<int>(args.get_int("--workers", 0, 64));
}

void check_model_name(const std::string& name) {
  std::string known;
  for (const std::string& n : model_names()) {
    if (n == name) return;
    known += (known.empty() ? "" : ", ") + n;
  }
  throw Error(str("--model: unknown model '", name, "' (known: ", known, ")"));
}

ModelPtr build_model(const std::string& name, const DataSplits& data, uint64_t seed,
                     const std::string& weights_path) {
  ModelPtr model = create_model(name, data.num_classes, static_cast<int>(data.channels), seed);
  if (!weights_path.empty()) model->load_checkpoint(weights_path);
  return model;
}

void check_output_path(const std::string& path, const std::string& flag) {
  size_t slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  struct stat st;
  NWQ_CHECK(stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode), flag, " ", path, ": folder '", dir,
            "' does not exist");
  NWQ_CHECK(access(dir.c_str(), W_OK) == 0, flag, " ", path, ": folder '", dir,
            "' is not writable");
  NWQ_CHECK(!(stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)), flag, " ", path,
            ": is a folder");
}

void print_json_line(const Json& value) {
  std::printf("%s\n", to_json(value).c_str());
  std::fflush(stdout);
}

}  // namespace nwq
