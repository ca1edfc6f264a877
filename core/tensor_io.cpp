// Conversion between safetensors entries and Tensors, plus a finiteness check for weights.
#include "core/tensor_io.h"

#include <cmath>
#include <cstring>

namespace nwq {

bool TensorFile::contains(const std::string& name) const {
  for (const auto& [key, t] : tensors) {
    if (key == name) return true;
  }
  return false;
}

const Tensor& TensorFile::at(const std::string& name) const {
  for (const auto& [key, t] : tensors) {
    if (key == name) return t;
  }
  throw Error(str(path, ": no tensor named '", name, "'"));
}

std::string TensorFile::meta(const std::string& key, const std::string& fallback) const {
  for (const auto& [k, v] : metadata) {
    if (k == key) return v;
  }
  return fallback;
}

TensorFile load_safetensors(const std::string& path) {
  SafetensorsFile file = read_safetensors(path);
  TensorFile out;
  out.path = path;
  out.metadata = file.metadata;
  for (const SafetensorsEntry& e : file.entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    std::memcpy(t.raw_data(), file.data(e), e.end - e.begin);
    out.tensors.emplace_back(e.name, t);
  }
  return out;
}

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const SafetensorsMetadata& metadata) {
  std::vector<Tensor> host;  // keeps the host copies alive while writing
  std::vector<SafetensorsTensorView> views;
  for (const auto& [name, t] : tensors) {
    NWQ_CHECK(t.defined(), path, ": tensor '", name, "' is undefined");
    host.push_back(t.contiguous().to(Device::cpu()));
    views.push_back({name, t.dtype(), t.sizes(), host.back().raw_data()});
  }
  write_safetensors(path, views, metadata);
}

template <class T>
static void check_finite_values(const T* p, int64_t n, const std::string& name,
                                const std::string& label) {
  for (int64_t i = 0; i < n; ++i) {
    NWQ_CHECK(std::isfinite(p[i]), label, ": tensor '", name, "' contains ",
              std::isnan(p[i]) ? "NaN" : "Inf", " at element ", i);
  }
}

void check_finite(const Tensor& t, const std::string& name, const std::string& label) {
  if (!is_float(t.dtype())) return;
  Tensor host = t.contiguous().to(Device::cpu());
  if (host.dtype() == DType::F32) check_finite_values(host.data<float>(), host.numel(), name, label);
  else check_finite_values(host.data<double>(), host.numel(), name, label);
}

}  // namespace nwq
