// Safetensors parsing with full validation of the header against the file, and serialization.
// Every check names the file (label) and the tensor so a corrupt file is easy to diagnose.
#include "core/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "core/file_util.h"
#include "core/json.h"

namespace nwq {

// Tensor bytes are copied as they are, so the host must store numbers little-endian like the format.
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "nwq's safetensors code needs a little-endian host");
#endif

namespace {

const char* kMetadataKey = "__metadata__";

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | p[i];
  return value;
}

void write_u64_le(uint64_t value, uint8_t* p) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(value >> (8 * i));
}

// Number of elements of a shape; throws when a dimension is negative or the product overflows.
uint64_t checked_numel(const std::vector<int64_t>& shape, const std::string& where) {
  for (int64_t dim : shape) NWQ_CHECK(dim >= 0, where, ": negative dimension ", dim, " in shape");
  for (int64_t dim : shape) {
    if (dim == 0) return 0;
  }
  uint64_t numel = 1;
  for (int64_t dim : shape) {
    uint64_t d = static_cast<uint64_t>(dim);
    NWQ_CHECK(numel <= std::numeric_limits<uint64_t>::max() / d, where, ": shape size overflows");
    numel *= d;
  }
  return numel;
}

// Bytes a tensor of this shape and dtype takes; throws on overflow.
uint64_t checked_bytes(const std::vector<int64_t>& shape, DType dtype, const std::string& where) {
  uint64_t numel = checked_numel(shape, where);
  uint64_t element_size = dtype_size(dtype);
  NWQ_CHECK(numel <= std::numeric_limits<uint64_t>::max() / element_size, where, ": byte size overflows");
  return numel * element_size;
}

// A JSON number that must be an exact non-negative integer (no "1.0", no "1e3").
uint64_t exact_unsigned(const Json& value, const std::string& where, const char* what) {
  NWQ_CHECK(value.is_integer() && value.as_int64() >= 0, where, ": ", what,
            " must be a non-negative integer, got ", to_json(value));
  return static_cast<uint64_t>(value.as_int64());
}

// The field `key` of a tensor entry, which must exist.
const Json& field(const Json& info, const char* key, const std::string& where) {
  const Json* value = info.find(key);
  NWQ_CHECK(value != nullptr, where, ": missing field \"", key, "\"");
  return *value;
}

SafetensorsEntry parse_entry(const std::string& name, const Json& info, uint64_t data_size,
                             const std::string& label) {
  std::string where = str(label, ": tensor \"", name, "\"");
  NWQ_CHECK(info.is_object(), where, ": entry must be an object, got ", to_json(info));
  SafetensorsEntry entry;
  entry.name = name;
  const Json& dtype = field(info, "dtype", where);
  NWQ_CHECK(dtype.is_string() && dtype_from_safetensors(dtype.as_string(), &entry.dtype), where,
            ": unsupported dtype ", to_json(dtype), " (nwq reads F32, F64, I64, I32, U8, I8)");
  const Json& shape = field(info, "shape", where);
  NWQ_CHECK(shape.is_array(), where, ": \"shape\" must be an array, got ", to_json(shape));
  for (const Json& dim : shape.as_array()) {
    NWQ_CHECK(dim.is_integer(), where, ": shape entries must be integers, got ", to_json(dim));
    entry.shape.push_back(dim.as_int64());
  }
  uint64_t bytes = checked_bytes(entry.shape, entry.dtype, where);
  const Json& offsets = field(info, "data_offsets", where);
  NWQ_CHECK(offsets.is_array() && offsets.size() == 2, where,
            ": \"data_offsets\" must be [begin, end], got ", to_json(offsets));
  entry.begin = exact_unsigned(offsets[0], where, "data_offsets begin");
  entry.end = exact_unsigned(offsets[1], where, "data_offsets end");
  NWQ_CHECK(entry.begin <= entry.end, where, ": data_offsets end ", entry.end, " is before begin ",
            entry.begin);
  NWQ_CHECK(entry.end <= data_size, where, ": data_offsets [", entry.begin, ", ", entry.end,
            "] go past the end of the data section (", data_size, " bytes); file truncated?");
  NWQ_CHECK(bytes == entry.end - entry.begin, where, ": data_offsets span ", entry.end - entry.begin,
            " bytes but shape and dtype need ", bytes, " bytes");
  return entry;
}

SafetensorsMetadata parse_metadata(const Json& metadata, const std::string& label) {
  NWQ_CHECK(metadata.is_object(), label, ": \"__metadata__\" must be an object, got ", to_json(metadata));
  SafetensorsMetadata result;
  for (const Json::Member& member : metadata.members()) {
    NWQ_CHECK(member.second.is_string(), label, ": \"__metadata__\" value of \"", member.first,
              "\" must be a string, got ", to_json(member.second));
    result.emplace_back(member.first, member.second.as_string());
  }
  return result;
}

// Sorts by offset and rejects two tensors sharing a byte (empty tensors share none). Gaps are fine.
void sort_and_check_overlaps(std::vector<SafetensorsEntry>* entries, const std::string& label) {
  std::stable_sort(entries->begin(), entries->end(), [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  const SafetensorsEntry* previous = nullptr;  // last non-empty entry
  for (const SafetensorsEntry& entry : *entries) {
    if (entry.begin == entry.end) continue;
    NWQ_CHECK(previous == nullptr || entry.begin >= previous->end, label, ": tensors \"", previous->name,
              "\" [", previous->begin, ", ", previous->end, "] and \"", entry.name, "\" [", entry.begin,
              ", ", entry.end, "] overlap");
    previous = &entry;
  }
}

}  // namespace

const SafetensorsEntry* SafetensorsFile::find(const std::string& name) const {
  for (const SafetensorsEntry& entry : entries) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

SafetensorsFile parse_safetensors(std::vector<uint8_t> bytes, const std::string& label) {
  NWQ_CHECK(bytes.size() >= 8, label, ": file is ", bytes.size(),
            " bytes, too short for a safetensors header length (8 bytes)");
  uint64_t header_size = read_u64_le(bytes.data());
  NWQ_CHECK(header_size <= kSafetensorsMaxHeader, label, ": header length ", header_size,
            " is over the ", kSafetensorsMaxHeader, "-byte limit; not a safetensors file?");
  NWQ_CHECK(header_size <= bytes.size() - 8, label, ": header length ", header_size,
            " is larger than the rest of the file (", bytes.size() - 8, " bytes); truncated?");
  std::string text(reinterpret_cast<const char*>(bytes.data()) + 8, static_cast<size_t>(header_size));
  Json header = parse_json(text, label + ": safetensors header");
  NWQ_CHECK(header.is_object(), label, ": safetensors header must be a JSON object");

  SafetensorsFile file;
  file.data_start = 8 + static_cast<size_t>(header_size);
  uint64_t data_size = bytes.size() - file.data_start;
  for (const Json::Member& member : header.members()) {
    if (member.first == kMetadataKey) {
      file.metadata = parse_metadata(member.second, label);
    } else {
      file.entries.push_back(parse_entry(member.first, member.second, data_size, label));
    }
  }
  sort_and_check_overlaps(&file.entries, label);
  file.bytes = std::move(bytes);
  return file;
}

SafetensorsFile read_safetensors(const std::string& path) { return parse_safetensors(read_file_bytes(path), path); }

std::vector<uint8_t> serialize_safetensors(const std::vector<SafetensorsTensorView>& tensors,
                                           const SafetensorsMetadata& metadata) {
  Json header = Json::object();
  if (!metadata.empty()) {
    Json meta = Json::object();
    for (const auto& pair : metadata) {
      NWQ_CHECK(meta.insert(pair.first, Json(pair.second)), "serialize_safetensors: duplicate metadata key \"",
                pair.first, "\"");
    }
    header.insert(kMetadataKey, std::move(meta));
  }
  uint64_t offset = 0;
  for (const SafetensorsTensorView& tensor : tensors) {
    std::string where = str("serialize_safetensors: tensor \"", tensor.name, "\"");
    NWQ_CHECK(tensor.name != kMetadataKey, where, ": the name is reserved for metadata");
    uint64_t bytes = checked_bytes(tensor.shape, tensor.dtype, where);
    NWQ_CHECK(offset + bytes >= offset, where, ": total size overflows");
    NWQ_CHECK(bytes == 0 || tensor.data != nullptr, where, ": data is null");
    Json shape = Json::array();
    for (int64_t dim : tensor.shape) shape.push_back(dim);
    Json entry = Json::object({{"dtype", dtype_traits(tensor.dtype).safetensors_name},
                               {"shape", std::move(shape)},
                               {"data_offsets", Json::array({offset, offset + bytes})}});
    NWQ_CHECK(header.insert(tensor.name, std::move(entry)), where, ": duplicate tensor name");
    offset += bytes;
  }
  std::string text = to_json(header);
  text.append((8 - text.size() % 8) % 8, ' ');  // pad so the data section starts 8-byte aligned

  std::vector<uint8_t> out(8 + text.size() + offset);
  write_u64_le(text.size(), out.data());
  std::memcpy(out.data() + 8, text.data(), text.size());
  uint8_t* data = out.data() + 8 + text.size();
  for (const SafetensorsTensorView& tensor : tensors) {
    size_t bytes = checked_bytes(tensor.shape, tensor.dtype, tensor.name);
    if (bytes > 0) std::memcpy(data, tensor.data, bytes);
    data += bytes;
  }
  return out;
}

void write_safetensors(const std::string& path, const std::vector<SafetensorsTensorView>& tensors,
                       const SafetensorsMetadata& metadata) {
  std::vector<uint8_t> bytes = serialize_safetensors(tensors, metadata);
  write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace nwq
