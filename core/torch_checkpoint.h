// Reading torch.save files without Python: the zip format (PyTorch >= 1.6) and the legacy
// pickle format, turned into nwq tensors. Floats (F16, BF16, F64) become F32 as models want.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor_io.h"

namespace nwq {

// True when the bytes look like a torch.save file (a zip archive, or the legacy format's magic
// number pickle) rather than safetensors, whose JSON header starts at byte 8.
bool looks_like_torch_checkpoint(const std::vector<uint8_t>& bytes);

// The state dict of a torch.save file: the top-level dict, or the dict under "state_dict" or
// "model" when there is one. Tensor entries come back in file order; other values (epoch
// numbers, strings, nested dicts) are read and skipped. Errors are nwq::Error naming `label`.
TensorFile parse_torch_checkpoint(const std::vector<uint8_t>& bytes, const std::string& label);
TensorFile load_torch_checkpoint(const std::string& path);

// A safetensors or torch.save file, told apart by its content: what --weights accepts.
TensorFile load_weights_file(const std::string& path);

}  // namespace nwq
