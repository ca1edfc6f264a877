// Quantized models as safetensors files: packed integer weight codes (any of 2..8 bits), per-channel
// scales and zero points, folded biases, activation steps and zero points, with the model name,
// the configuration and the bit widths in metadata. Loading rebuilds the same QuantModel.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor_io.h"
#include "quant/quant_model.h"

namespace nwq {

constexpr const char* kQuantizedFormat = "nwq-quantized-v1";

// Packs values (each in [0, 2^bits)) little-endian, LSB first: value i takes bits
// [i*bits, (i+1)*bits) of the byte stream. ceil(n*bits/8) bytes.
std::vector<uint8_t> pack_codes(const std::vector<uint8_t>& values, int bits);
// The inverse; throws naming `label` when bytes has the wrong length for n values.
std::vector<uint8_t> unpack_codes(const std::vector<uint8_t>& bytes, int64_t n, int bits,
                                  const std::string& label);

// Writes the hardened model (every layer Nearest or Hard, activations On) atomically. extra:
// metadata to add (data name, accuracies, ...).
void save_quantized(const QuantModel& model, const std::string& model_name, const std::string& path,
                    const SafetensorsMetadata& extra = {});

bool is_quantized_file(const TensorFile& file);

// Builds `model_name` for num_classes / in_channels / image size, prepares it as the file's
// configuration says, and loads the codes and steps. Errors name the file and the tensor.
std::shared_ptr<QuantModel> load_quantized(const TensorFile& file, int num_classes, int in_channels,
                                           int64_t height, int64_t width, Device device);

// One line per layer (bits, weights, bytes) and the total against FP32, for `nwq info`.
std::string describe_quantized(const TensorFile& file);

}  // namespace nwq
