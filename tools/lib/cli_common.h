// Pieces shared by the nwq subcommands: the flags train, eval and quantize have in common
// (declared once here, read back here), building a model for a data set, loading weights into it,
// and printing the --json summary line.
#pragma once
#include <string>

#include "core/json.h"
#include "data/sources.h"
#include "models/registry.h"
#include "tools/lib/args.h"
#include "tools/lib/normalization_flags.h"

namespace nwq {

// The shared flags, declared in one place so that their names, defaults and help text cannot drift
// apart between commands (tests/test_cli.cpp compares the help lines).
// --data SPEC, then --mean and --std (add_normalization_flags; from_weights: the command reads
// their defaults from its --weights file's metadata).
void add_data_flags(ArgParser& a, bool normalization_from_weights);
// --device D and --tf32, read by device_from_flag.
void add_device_flags(ArgParser& a);
// --workers N and --bad-images MODE, read by data_options_from_flags and workers_from_flag.
void add_loading_flags(ArgParser& a);
// --quiet (no progress bars) and --json (one JSON line of results on stdout).
void add_output_switches(ArgParser& a);

// Reads --device, checking that CUDA is there when asked for.
Device device_from_flag(const ArgParser& args);
// Data options from --bad-images and --workers (ImageFolder decoding threads).
DataOptions data_options_from_flags(const ArgParser& args, bool augment_train, bool load_train);
// The same with the chosen --mean/--std (choose_normalization).
DataOptions data_options_from_flags(const ArgParser& args, bool augment_train, bool load_train,
                                    const NormalizationChoice& normalization);
// Prints how many undecodable images --bad-images skip left out, and the first few.
void report_skipped_images(const DataSplits& data);
// Reads --workers (0..64).
int workers_from_flag(const ArgParser& args);
// Throws listing the known models unless name is one of them.
void check_model_name(const std::string& name);
// Creates the model for the data's channels and classes; loads weights when path is not empty.
ModelPtr build_model(const std::string& name, const DataSplits& data, uint64_t seed,
                     const std::string& weights_path);
// Throws naming flag unless path's folder exists and is writable (checked before long work).
void check_output_path(const std::string& path, const std::string& flag);
// Prints one JSON line on stdout.
void print_json_line(const Json& value);

}  // namespace nwq
