// Small, model-agnostic fixes that make state_dicts saved by other tools loadable by name:
// wrapper prefixes (DataParallel's `module.`, ...) and BatchNorm counters missing from old files.
// The model files build their normalize_*_names functions from these.
#pragma once
#include <string>
#include <vector>

#include "core/tensor_io.h"

namespace nwq {

// Prefixes that wrappers put in front of every key: "module." (nn.DataParallel / DDP),
// "model." (Lightning modules and many training scripts), "_orig_mod." (torch.compile).
const std::vector<std::string>& wrapper_prefixes();

// While every key starts with the same one of wrapper_prefixes(), removes it (so nested wrappers,
// "module.model.conv1.weight", come off too). Keys are left alone when they do not all share it.
NamedTensors strip_wrapper_prefixes(const NamedTensors& state);

// For every "<p>.running_var" without a "<p>.num_batches_tracked", inserts a zero I64 scalar
// counter right after it: what torch's BatchNorm does when it loads such a (pre-0.4.1) file.
NamedTensors add_missing_bn_counters(const NamedTensors& state);

}  // namespace nwq
