// torch.save files: find the pickle and the storage bytes (zip entries or the legacy stream),
// read the pickle safely, pick the state dict, and copy each tensor view out of its storage.
#include "core/torch_checkpoint.h"

#include <cstring>
#include <limits>
#include <map>

#include "core/error.h"
#include "core/file_util.h"
#include "core/pickle_reader.h"
#include "core/zip_reader.h"

namespace nwq {

namespace {

// All tensors together may hold at most this many elements per byte of the file: crafted views
// with stride 0, or many views of one storage, could otherwise ask for terabytes.
constexpr uint64_t kMaxElementsPerFileByte = 8;

struct StorageInfo {
  DType dtype;        // what nwq stores it as
  size_t file_bytes;  // bytes per element in the file
};

StorageInfo storage_info(const std::string& type) {
  if (type == "FloatStorage") return {DType::F32, 4};
  if (type == "HalfStorage") return {DType::F32, 2};
  if (type == "BFloat16Storage") return {DType::F32, 2};
  if (type == "DoubleStorage") return {DType::F32, 8};
  if (type == "LongStorage") return {DType::I64, 8};
  if (type == "IntStorage") return {DType::I32, 4};
  if (type == "CharStorage") return {DType::I8, 1};
  return {DType::U8, 1};  // ByteStorage, BoolStorage
}

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16, exponent = (h >> 10) & 0x1f;
  uint32_t mantissa = h & 0x3ffu, bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // Inf or NaN
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {  // subnormal: shift until the leading 1 reaches the implicit bit
    uint32_t e = 113;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --e;
    }
    bits = sign | (e << 23) | ((mantissa & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Element i of a storage in nwq's dtype, written to out (dtype_size(info.dtype) bytes).
void convert_element(const std::string& type, const uint8_t* in, uint8_t* out) {
  if (type == "HalfStorage" || type == "BFloat16Storage") {
    uint16_t h;
    std::memcpy(&h, in, 2);
    float f;
    if (type == "HalfStorage") {
      f = half_to_float(h);
    } else {
      const uint32_t bits = uint32_t{h} << 16;
      std::memcpy(&f, &bits, 4);
    }
    std::memcpy(out, &f, 4);
  } else if (type == "DoubleStorage") {
    double d;
    std::memcpy(&d, in, 8);
    const float f = static_cast<float>(d);
    std::memcpy(out, &f, 4);
  } else if (type == "BoolStorage") {
    *out = *in != 0;
  } else {
    std::memcpy(out, in, storage_info(type).file_bytes);
  }
}

struct StorageBytes {
  const uint8_t* data = nullptr;
  uint64_t size = 0;
};

// Copies the strided view of a tensor out of its storage into a new contiguous tensor.
// `budget` is the number of elements the file's tensors may still hold; this one's are taken.
Tensor materialize(const PickleObject& t, const StorageBytes& storage, uint64_t* budget,
                   const std::string& where) {
  const StorageInfo info = storage_info(t.storage_type);
  NWQ_CHECK(t.sizes.size() == t.strides.size(), where, ": size has ", t.sizes.size(),
            " dims but stride has ", t.strides.size());
  NWQ_CHECK(t.offset >= 0, where, ": negative storage offset ", t.offset);
  NWQ_CHECK(storage.size % info.file_bytes == 0, where, ": storage of ", storage.size,
            " bytes is not a whole number of ", info.file_bytes, "-byte elements");
  const uint64_t storage_numel = storage.size / info.file_bytes;
  const uint64_t limit = *budget;
  uint64_t numel = 1, last = static_cast<uint64_t>(t.offset);
  for (size_t d = 0; d < t.sizes.size(); ++d) {
    NWQ_CHECK(t.sizes[d] >= 0 && t.strides[d] >= 0, where, ": negative size or stride in dim ", d);
    if (t.sizes[d] == 0) numel = 0;  // an empty view reads nothing, wherever it points
  }
  NWQ_CHECK(numel == 0 || last < storage_numel, where, ": storage offset ", t.offset,
            " is past its storage of ", storage_numel, " elements");
  for (size_t d = 0; d < t.sizes.size() && numel != 0; ++d) {
    const uint64_t size = static_cast<uint64_t>(t.sizes[d]);
    const uint64_t stride = static_cast<uint64_t>(t.strides[d]);
    NWQ_CHECK(size <= limit / numel, where, ": ", numel, " x ", size, " elements is more than ",
              kMaxElementsPerFileByte, " per byte of the file in all");
    numel *= size;
    NWQ_CHECK(stride == 0 || size - 1 <= storage_numel / stride, where, ": size ", size,
              " with stride ", stride, " reaches past its storage of ", storage_numel, " elements");
    last += (size - 1) * stride;
    NWQ_CHECK(last < storage_numel, where, ": view reaches element ", last, " in dim ", d,
              " but its storage holds ", storage_numel, " elements");
  }
  NWQ_CHECK(numel <= limit, where, ": more elements than ", kMaxElementsPerFileByte,
            " per byte of the file in all");
  *budget -= numel;
  Tensor out = Tensor::empty(t.sizes, info.dtype);
  uint8_t* dst = static_cast<uint8_t*>(out.raw_data());
  const size_t out_bytes = dtype_size(info.dtype);
  std::vector<int64_t> index(t.sizes.size(), 0);
  for (uint64_t i = 0; i < numel; ++i) {
    uint64_t element = static_cast<uint64_t>(t.offset);
    for (size_t d = 0; d < index.size(); ++d)
      element += static_cast<uint64_t>(index[d] * t.strides[d]);
    convert_element(t.storage_type, storage.data + element * info.file_bytes, dst + i * out_bytes);
    for (size_t d = index.size(); d-- > 0;) {  // next index, last dimension fastest
      if (++index[d] < t.sizes[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

// The dict holding the tensors: "state_dict" or "model" when present, else the root.
int pick_state_dict(const PickleData& pickle, const std::string& label) {
  NWQ_CHECK(pickle.objects[static_cast<size_t>(pickle.root)].kind == PickleKind::Dict, label,
            ": torch checkpoint does not hold a dict at its top level");
  for (const char* key : {"state_dict", "model"}) {
    const int inner = pickle_dict_get(pickle, pickle.root, key);
    if (inner >= 0 && pickle.objects[static_cast<size_t>(inner)].kind == PickleKind::Dict)
      return inner;
  }
  return pickle.root;
}

TensorFile collect_tensors(const PickleData& pickle,
                           const std::map<std::string, StorageBytes>& storages, uint64_t file_size,
                           const std::string& label) {
  TensorFile out;
  out.path = label;
  uint64_t budget = file_size * kMaxElementsPerFileByte + 64;
  const PickleObject& dict = pickle.objects[static_cast<size_t>(pick_state_dict(pickle, label))];
  for (size_t i = 0; i + 1 < dict.items.size(); i += 2) {
    const PickleObject& key = pickle.objects[static_cast<size_t>(dict.items[i])];
    const PickleObject& value = pickle.objects[static_cast<size_t>(dict.items[i + 1])];
    if (key.kind != PickleKind::String || value.kind != PickleKind::Tensor) continue;  // skipped
    const std::string where = str(label, ": tensor \"", key.text, "\"");
    const std::string& storage_key = pickle.objects[static_cast<size_t>(value.storage)].text;
    auto found = storages.find(storage_key);
    NWQ_CHECK(found != storages.end(), where, ": its storage \"", storage_key, "\" is missing");
    out.tensors.emplace_back(key.text, materialize(value, found->second, &budget, where));
  }
  NWQ_CHECK(!out.tensors.empty(), label, ": torch checkpoint holds no tensors in its state dict");
  return out;
}

TensorFile parse_zip_checkpoint(const std::vector<uint8_t>& bytes, const std::string& label) {
  const std::vector<ZipEntry> entries = list_zip(bytes, label);
  const ZipEntry* pickle_entry = nullptr;
  for (const ZipEntry& e : entries) {
    const std::string suffix = "/data.pkl";
    if (e.name.size() > suffix.size() &&
        e.name.compare(e.name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
        e.name.find('/') == e.name.size() - suffix.size()) {
      pickle_entry = &e;
    }
  }
  NWQ_CHECK(pickle_entry != nullptr, label,
            ": zip archive has no <name>/data.pkl; not a torch.save file?");
  const std::string prefix =
      pickle_entry->name.substr(0, pickle_entry->name.size() - 8);  // "<name>/"
  std::map<std::string, StorageBytes> storages;
  for (const ZipEntry& e : entries) {
    const bool ours = e.name.rfind(prefix, 0) == 0;
    if (ours && e.name == prefix + "byteorder") {
      const std::string order(reinterpret_cast<const char*>(bytes.data() + e.data_begin), e.size);
      NWQ_CHECK(e.method != 0 || order == "little", label, ": byteorder \"", order,
                "\" is not supported (nwq reads little-endian checkpoints)");
    }
    if (!ours || (e.name.rfind(prefix + "data/", 0) != 0 && &e != pickle_entry)) continue;
    NWQ_CHECK(e.method == 0, label, ": zip entry \"", e.name, "\" is compressed (method ", e.method,
              "); nwq reads STORED entries, as torch.save writes them");
    if (&e != pickle_entry)
      storages[e.name.substr(prefix.size() + 5)] = {bytes.data() + e.data_begin, e.size};
  }
  const PickleData pickle = read_pickle(bytes.data() + pickle_entry->data_begin, pickle_entry->size,
                                        label + " (" + pickle_entry->name + ")");
  return collect_tensors(pickle, storages, bytes.size(), label);
}

// Legacy format: magic, protocol and sys_info pickles, the object pickle, the list of storage
// keys, then per key an 8-byte element count and the raw elements.
TensorFile parse_legacy_checkpoint(const std::vector<uint8_t>& bytes, const std::string& label) {
  const uint8_t kMagic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
  size_t pos = 0;
  auto next = [&](const char* what) {
    PickleData p = read_pickle(bytes.data() + pos, bytes.size() - pos, str(label, " (", what, ")"));
    pos += p.consumed;
    return p;
  };
  const PickleData magic = next("magic number");
  const PickleObject& m = magic.objects[static_cast<size_t>(magic.root)];
  NWQ_CHECK(
      m.kind == PickleKind::Int && m.text == std::string(reinterpret_cast<const char*>(kMagic), 10),
      label, ": wrong magic number; not a torch.save file");
  const PickleData protocol = next("protocol version");
  const PickleObject& v = protocol.objects[static_cast<size_t>(protocol.root)];
  NWQ_CHECK(v.kind == PickleKind::Int && v.number == 1001, label, ": protocol version is not 1001");
  const PickleData sys_info = next("sys_info");
  const int little = pickle_dict_get(sys_info, sys_info.root, "little_endian");
  NWQ_CHECK(little < 0 || sys_info.objects[static_cast<size_t>(little)].number == 1, label,
            ": big-endian checkpoints are not supported");
  const PickleData object = next("state dict");
  const PickleData keys = next("storage keys");
  const PickleObject& list = keys.objects[static_cast<size_t>(keys.root)];
  NWQ_CHECK(list.kind == PickleKind::List, label, ": storage keys are not a list");

  std::map<std::string, std::string> types;  // storage key -> type, from the object pickle
  for (const PickleObject& o : object.objects) {
    if (o.kind == PickleKind::Storage) types[o.text] = o.storage_type;
  }
  std::map<std::string, StorageBytes> storages;
  for (int item : list.items) {
    const PickleObject& key = keys.objects[static_cast<size_t>(item)];
    NWQ_CHECK(key.kind == PickleKind::String, label, ": a storage key is not a string");
    auto type = types.find(key.text);
    NWQ_CHECK(type != types.end(), label, ": storage \"", key.text, "\" has no type in the pickle");
    NWQ_CHECK(bytes.size() - pos >= 8, label, ": storage \"", key.text,
              "\" is cut off; truncated?");
    uint64_t numel = 0;
    for (int i = 7; i >= 0; --i) numel = (numel << 8) | bytes[pos + static_cast<size_t>(i)];
    pos += 8;
    const uint64_t element = storage_info(type->second).file_bytes;
    NWQ_CHECK(numel <= (bytes.size() - pos) / element, label, ": storage \"", key.text,
              "\" claims ", numel, " elements but only ", bytes.size() - pos,
              " bytes remain; truncated?");
    storages[key.text] = {bytes.data() + pos, numel * element};
    pos += numel * element;
  }
  return collect_tensors(object, storages, bytes.size(), label);
}

}  // namespace

bool looks_like_torch_checkpoint(const std::vector<uint8_t>& bytes) {
  // A safetensors header is JSON starting at byte 8; a header of 128 bytes starts the file with
  // 0x80 0x00 like a pickle, so that comes first.
  if (bytes.size() > 8 && bytes[8] == '{') return false;
  // Legacy files start with the magic number pickle: PROTO 2..5, LONG1 of 10 bytes.
  const bool legacy = bytes.size() >= 4 && bytes[0] == 0x80 && bytes[1] >= 2 && bytes[1] <= 5 &&
                      bytes[2] == 0x8a && bytes[3] == 10;
  return looks_like_zip(bytes) || legacy;
}

TensorFile parse_torch_checkpoint(const std::vector<uint8_t>& bytes, const std::string& label) {
  if (looks_like_zip(bytes)) return parse_zip_checkpoint(bytes, label);
  NWQ_CHECK(bytes.size() < 262 || std::memcmp(bytes.data() + 257, "ustar", 5) != 0, label,
            ": tar checkpoints (torch < 0.4) are not supported; re-save with a newer torch");
  NWQ_CHECK(!bytes.empty() && bytes[0] == 0x80, label,
            ": not a torch.save file (neither a zip archive nor a pickle)");
  return parse_legacy_checkpoint(bytes, label);
}

TensorFile load_torch_checkpoint(const std::string& path) {
  return parse_torch_checkpoint(read_file_bytes(path), path);
}

TensorFile load_weights_file(const std::string& path) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  if (looks_like_torch_checkpoint(bytes)) return parse_torch_checkpoint(bytes, path);
  return load_safetensors(path);
}

}  // namespace nwq
