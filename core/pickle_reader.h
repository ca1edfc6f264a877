// A safe reader for the pickles inside torch.save files: a small stack machine that knows only
// the opcodes and globals a state dict needs and refuses everything else. It never runs code.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace nwq {

enum class PickleKind {
  None,
  Bool,
  Int,
  Float,
  String,
  Bytes,
  Tuple,
  List,
  Dict,
  Global,
  Storage,
  Tensor
};

// One value. Objects live in PickleData::objects and refer to each other by index, so a
// pickle that makes a list contain itself cannot leak or loop forever when freed.
struct PickleObject {
  PickleKind kind = PickleKind::None;
  int64_t number = 0;        // Int, Bool (0/1); Storage: element count from the persistent id
  double real = 0;           // Float
  std::string text;          // String, Bytes; Global: "module.name"; Storage: its key
  std::vector<int> items;    // Tuple, List; Dict: key, value, key, value, ...
  std::string storage_type;  // Storage: "FloatStorage", ...; Tensor: its storage's type
  // Tensor: the storage object (index), element offset, sizes and strides in elements.
  int storage = -1;
  int64_t offset = 0;
  std::vector<int64_t> sizes, strides;
};

struct PickleData {
  std::vector<PickleObject> objects;
  int root = -1;        // the value STOP returned
  size_t consumed = 0;  // bytes read up to and including STOP
};

// Storage type names torch.save writes ("FloatStorage", ...) that nwq can read.
bool is_known_storage_type(const std::string& name);

// Reads one pickle starting at data[0]. Accepted globals: collections.OrderedDict,
// torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter and torch.<T>Storage; any
// other global or opcode is an nwq::Error naming it and `label` (usually the file path).
PickleData read_pickle(const uint8_t* data, size_t size, const std::string& label);

// The value for a string key of a Dict object, or -1.
int pickle_dict_get(const PickleData& pickle, int dict, const std::string& key);

}  // namespace nwq
