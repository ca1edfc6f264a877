// Tensors to and from safetensors files (the raw format layer is core/safetensors.h).
// Loaded tensors are CPU tensors in file order; saving writes atomically.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "core/safetensors.h"
#include "core/tensor.h"

namespace nwq {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct TensorFile {
  std::string path;
  NamedTensors tensors;  // in data-offset order
  SafetensorsMetadata metadata;

  bool contains(const std::string& name) const;
  // Throws naming the file and the missing tensor.
  const Tensor& at(const std::string& name) const;
  // Metadata value, or fallback when absent.
  std::string meta(const std::string& key, const std::string& fallback = "") const;
};

TensorFile load_safetensors(const std::string& path);
// Tensors may live on any device; they are copied to the host for writing.
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const SafetensorsMetadata& metadata = {});

// Throws "<label>: tensor '<name>' contains NaN/Inf at element i" for float tensors.
void check_finite(const Tensor& t, const std::string& name, const std::string& label);

}  // namespace nwq
