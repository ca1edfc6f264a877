// Module::load_state_dict and the safetensors save/load wrappers: validate everything a file
// provides against the model (names, shapes, dtypes, finiteness), then copy values in place.
#include <unordered_map>
#include <unordered_set>

#include "models/module.h"

namespace nwq {

namespace {

// "a, b, c and 4 more": the first few items of a long list.
std::string first_few(const std::vector<std::string>& items, size_t shown = 5) {
  std::string out;
  for (size_t i = 0; i < items.size() && i < shown; ++i) out += (i ? ", " : "") + items[i];
  if (items.size() > shown) out += str(" and ", items.size() - shown, " more");
  return out;
}

// "2 missing keys (a, b)"; empty when there are none.
std::string problem(const std::vector<std::string>& items, const char* one, const char* many) {
  if (items.empty()) return "";
  return str(items.size(), " ", items.size() == 1 ? one : many, " (", first_few(items), ")");
}

// The source in the destination's dtype, or undefined when the two don't go together:
// F32 accepts F32 and F64; any other dtype only itself.
Tensor convert_for(const Tensor& src, const Tensor& dst) {
  if (src.dtype() == dst.dtype()) return src;
  if (dst.dtype() == DType::F32 && src.dtype() == DType::F64) return src.to(DType::F32);
  return Tensor();
}

}  // namespace

void Module::load_state_dict(const NamedTensors& state, bool strict, const std::string& label) {
  std::unordered_map<std::string, const Tensor*> given;
  std::vector<std::string> duplicated, missing, unexpected, mismatched;
  for (const auto& [name, t] : state) {
    if (!given.emplace(name, &t).second) duplicated.push_back(name);
  }
  std::vector<std::pair<std::string, std::pair<Tensor, Tensor>>> copies;  // name, (dst, src)
  std::unordered_set<std::string> expected;
  for (const auto& [name, dst] : state_dict()) {
    expected.insert(name);
    auto it = given.find(name);
    if (it == given.end()) {
      missing.push_back(name);
      continue;
    }
    const Tensor& src = *it->second;
    NWQ_CHECK(src.defined(), label, ": tensor '", name, "' is undefined");
    Tensor value = src.sizes() == dst.sizes() ? convert_for(src, dst) : Tensor();
    if (!value.defined()) {
      mismatched.push_back(str(name, ": model ", dtype_name(dst.dtype()), shape_str(dst.sizes()),
                               ", given ", dtype_name(src.dtype()), shape_str(src.sizes())));
      continue;
    }
    copies.push_back({name, {dst, value}});
  }
  for (const auto& [name, t] : state) {
    if (!expected.count(name)) unexpected.push_back(name);
  }
  if (!strict) {
    missing.clear();
    unexpected.clear();
  }
  if (!duplicated.empty() || !missing.empty() || !unexpected.empty() || !mismatched.empty()) {
    std::string why;
    for (const std::string& part :
         {problem(missing, "missing key", "missing keys"),
          problem(unexpected, "unexpected key", "unexpected keys"),
          problem(mismatched, "shape/dtype mismatch", "shape/dtype mismatches"),
          problem(duplicated, "duplicated key", "duplicated keys")}) {
      if (!part.empty()) why += (why.empty() ? "" : "; ") + part;
    }
    throw Error(str(label, ": cannot load into ", type_name(), ": ", why));
  }
  for (const auto& [name, pair] : copies) check_finite(pair.second, name, label);
  for (auto& [name, pair] : copies) pair.first.copy_(pair.second);
}

void Module::save(const std::string& path, const SafetensorsMetadata& metadata) const {
  save_safetensors(path, state_dict(), metadata);
}

SafetensorsMetadata Module::load(const std::string& path, bool strict) {
  TensorFile file = load_safetensors(path);
  load_state_dict(file.tensors, strict, path);
  return file.metadata;
}

}  // namespace nwq
