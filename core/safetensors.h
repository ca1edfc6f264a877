// The raw safetensors format: parse and validate a file into named byte ranges, and serialize
// named tensors back. No Tensor type here; core/tensor code builds tensors on top of these views.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.h"

namespace nwq {

// Layout: u64 little-endian header length N, N bytes of JSON header, then the data section.
// The header maps tensor names to {"dtype", "shape", "data_offsets": [begin, end]} with offsets
// relative to the start of the data section, plus an optional "__metadata__" string->string map.

struct SafetensorsEntry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;  // byte range inside the data section
};

using SafetensorsMetadata = std::vector<std::pair<std::string, std::string>>;

struct SafetensorsFile {
  std::vector<SafetensorsEntry> entries;  // sorted by data offset
  SafetensorsMetadata metadata;           // in header order
  std::vector<uint8_t> bytes;             // the whole file
  size_t data_start = 0;                  // offset of the data section inside bytes

  // Start of an entry's bytes. Not necessarily aligned for its dtype: copy with memcpy.
  const uint8_t* data(const SafetensorsEntry& entry) const { return bytes.data() + data_start + entry.begin; }
  // The entry with this name, or nullptr.
  const SafetensorsEntry* find(const std::string& name) const;
};

// Largest header accepted when reading (the reference implementation uses the same limit).
constexpr uint64_t kSafetensorsMaxHeader = 100u * 1000u * 1000u;

// Validates everything (sizes, dtypes, offsets, overlaps, names); errors are nwq::Error starting
// with `label` (usually the file path).
SafetensorsFile parse_safetensors(std::vector<uint8_t> bytes, const std::string& label);
SafetensorsFile read_safetensors(const std::string& path);

// One tensor to write: contiguous little-endian data of shape-product * dtype_size bytes.
struct SafetensorsTensorView {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const void* data;
};

// Tensors are written in the order given; the header is padded with spaces to a multiple of 8.
std::vector<uint8_t> serialize_safetensors(const std::vector<SafetensorsTensorView>& tensors,
                                           const SafetensorsMetadata& metadata);
// serialize_safetensors + write_file_atomic.
void write_safetensors(const std::string& path, const std::vector<SafetensorsTensorView>& tensors,
                       const SafetensorsMetadata& metadata);

}  // namespace nwq
