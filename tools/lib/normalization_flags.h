// --mean/--std of train, eval, quantize and data: declared and parsed in one place, combined with a
// checkpoint's `mean`/`std` metadata (a flag wins, with a warning when they differ).
#pragma once
#include <string>
#include <vector>

#include "core/json.h"
#include "core/safetensors.h"
#include "data/sources.h"
#include "tools/lib/args.h"

namespace nwq {

// The normalization a command uses, value by value: each vector empty means the data kind's
// default; *_from says where it came from ("--mean", "the checkpoint FILE", "" for the default).
struct NormalizationChoice {
  std::vector<float> mean, std;
  std::string mean_from, std_from;
};

// Declares --mean R,G,B and --std R,G,B (from_weights: the help says --weights' metadata is read).
void add_normalization_flags(ArgParser& a, bool from_weights);

// --mean/--std when given, else the checkpoint's `mean`/`std` metadata when given (checkpoint may
// be null), else the default. Checks every value and the count against --data before any work;
// prints "nwq: warning: ..." when a flag differs from the checkpoint's value.
NormalizationChoice choose_normalization(const ArgParser& a, const SafetensorsMetadata* checkpoint,
                                         const std::string& checkpoint_path);

// One stderr line: "normalization: mean 0.286 std 0.353 (fmnist default)".
void report_normalization(const NormalizationChoice& choice, const DataSplits& data);

// The `mean` and `std` metadata entries of what the data used ("0.4914,0.4822,0.4465").
SafetensorsMetadata normalization_metadata(const DataSplits& data);

// The values as a JSON array of numbers.
Json channel_values_json(const std::vector<float>& values);

}  // namespace nwq
