// libFuzzer target: parse_safetensors (core/safetensors.h) on arbitrary bytes, the entry->Tensor
// conversion load_safetensors does, check_finite, and the serialize -> parse round trip.
#include <cstring>

#include "core/safetensors.h"
#include "core/tensor_io.h"
#include "fuzz/fuzz_util.h"

namespace {

// What core/tensor_io.cpp load_safetensors does after read_safetensors, on bytes in memory.
nwq::TensorFile to_tensor_file(const nwq::SafetensorsFile& file) {
  nwq::TensorFile out;
  out.path = "fuzz.safetensors";
  out.metadata = file.metadata;
  for (const nwq::SafetensorsEntry& e : file.entries) {
    nwq::Tensor t = nwq::Tensor::empty(e.shape, e.dtype);
    std::memcpy(t.raw_data(), file.data(e), e.end - e.begin);
    out.tensors.emplace_back(e.name, t);
  }
  return out;
}

// A file that parsed must serialize and parse back to the same entries, bytes and metadata.
void check_round_trip(const nwq::SafetensorsFile& file) {
  std::vector<nwq::SafetensorsTensorView> views;
  for (const nwq::SafetensorsEntry& e : file.entries) views.push_back({e.name, e.dtype, e.shape, file.data(e)});
  const nwq::SafetensorsFile again =
      nwq::parse_safetensors(nwq::serialize_safetensors(views, file.metadata), "round trip");
  if (again.metadata != file.metadata || again.entries.size() != file.entries.size()) std::abort();
  for (size_t i = 0; i < file.entries.size(); ++i) {
    const nwq::SafetensorsEntry &a = file.entries[i], &b = again.entries[i];
    const uint64_t n = a.end - a.begin;
    if (a.name != b.name || a.dtype != b.dtype || a.shape != b.shape || b.end - b.begin != n) std::abort();
    if (n > 0 && std::memcmp(file.data(a), again.data(b), n) != 0) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nwq::SafetensorsFile file;
  const bool parsed = nwq_fuzz::expect_error_or_success(
      [&] { file = nwq::parse_safetensors(nwq_fuzz::to_bytes(data, size), "fuzz.safetensors"); });
  if (!parsed) return 0;
  check_round_trip(file);  // a valid file must round-trip exactly: errors here are findings too
  nwq_fuzz::expect_error_or_success([&] {
    nwq::TensorFile tensors = to_tensor_file(file);
    for (const auto& entry : tensors.tensors) {
      const std::string& name = entry.first;
      const nwq::Tensor& t = entry.second;
      nwq_fuzz::expect_error_or_success([&] { nwq::check_finite(t, name, tensors.path); });
      if (!tensors.contains(name) || !tensors.at(name).same(t)) std::abort();
    }
  });
  return 0;
}
