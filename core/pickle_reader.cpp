// The pickle stack machine: opcodes are read one by one, values are built as PickleObjects, and
// the few callables a state dict uses are interpreted here by name instead of being called.
#include "core/pickle_reader.h"

#include <cstring>
#include <unordered_map>

#include "core/error.h"

namespace nwq {

namespace {

const char* const kStorageTypes[] = {"FloatStorage",  "HalfStorage", "BFloat16Storage",
                                     "DoubleStorage", "LongStorage", "IntStorage",
                                     "ByteStorage",   "CharStorage", "BoolStorage"};

bool is_allowed_global(const std::string& name) {
  if (name == "collections.OrderedDict" || name == "torch._utils._rebuild_tensor_v2" ||
      name == "torch._utils._rebuild_parameter") {
    return true;
  }
  return name.rfind("torch.", 0) == 0 && is_known_storage_type(name.substr(6));
}

// The machine's state while one pickle is read.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size, const std::string& label)
      : data_(data), size_(size), label_(label) {}

  PickleData run() {
    while (true) {
      const size_t at = pos_;
      const uint8_t op = take(1)[0];
      if (op == '.') break;
      step(op, at);
    }
    NWQ_CHECK(stack_.size() == 1 && marks_.empty(), label_, ": pickle ends with ", stack_.size(),
              " values on its stack (expected 1)");
    out_.root = stack_.back();
    out_.consumed = pos_;
    return std::move(out_);
  }

 private:
  [[noreturn]] void fail(size_t at, const std::string& what) const {
    throw Error(str(label_, ": pickle byte ", at, ": ", what));
  }

  const uint8_t* take(size_t n) {
    if (n > size_ - pos_) fail(pos_, str("needs ", n, " more bytes but the data ends; truncated?"));
    const uint8_t* p = data_ + pos_;
    pos_ += n;
    return p;
  }
  uint64_t take_le(size_t n) {
    const uint8_t* p = take(n);
    uint64_t value = 0;
    for (size_t i = n; i-- > 0;) value = (value << 8) | p[i];
    return value;
  }
  std::string take_line() {
    const void* newline = std::memchr(data_ + pos_, '\n', size_ - pos_);
    if (newline == nullptr) fail(pos_, "GLOBAL name has no end of line; truncated?");
    const size_t n = static_cast<const uint8_t*>(newline) - (data_ + pos_);
    std::string line(reinterpret_cast<const char*>(take(n)), n);
    take(1);
    return line;
  }

  int make(PickleKind kind) {
    out_.objects.emplace_back();
    out_.objects.back().kind = kind;
    return static_cast<int>(out_.objects.size() - 1);
  }
  PickleObject& obj(int index) { return out_.objects[static_cast<size_t>(index)]; }
  void push(int index) { stack_.push_back(index); }
  int pop(size_t at) {
    if (stack_.size() <= floor()) fail(at, "pops an empty stack");
    const int index = stack_.back();
    stack_.pop_back();
    return index;
  }
  int top(size_t at) {
    if (stack_.size() <= floor()) fail(at, "reads an empty stack");
    return stack_.back();
  }
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  // Pops everything down to the last MARK and the mark itself.
  std::vector<int> pop_to_mark(size_t at) {
    if (marks_.empty()) fail(at, "needs a MARK but there is none");
    std::vector<int> items(stack_.begin() + static_cast<std::ptrdiff_t>(marks_.back()),
                           stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }

  void push_text(PickleKind kind, size_t n) {
    const int index = make(kind);
    const uint8_t* p = take(n);
    obj(index).text.assign(reinterpret_cast<const char*>(p), n);
    push(index);
  }
  void push_int(int64_t value) {
    const int index = make(PickleKind::Int);
    obj(index).number = value;
    push(index);
  }
  void push_tuple(std::vector<int> items) {
    const int index = make(PickleKind::Tuple);
    obj(index).items = std::move(items);
    push(index);
  }
  void memo_put(uint64_t key, size_t at) { memo_[key] = top(at); }
  void memo_get(uint64_t key, size_t at) {
    auto found = memo_.find(key);
    if (found == memo_.end()) fail(at, str("memo key ", key, " was never stored"));
    push(found->second);
  }

  // LONG1: n little-endian two's-complement bytes. Values over 8 bytes keep only their bytes.
  void push_long(size_t n) {
    const int index = make(PickleKind::Int);
    const uint8_t* p = take(n);
    obj(index).text.assign(reinterpret_cast<const char*>(p), n);
    if (n <= 8) {
      uint64_t value = 0;
      for (size_t i = n; i-- > 0;) value = (value << 8) | p[i];
      if (n > 0 && n < 8 && (p[n - 1] & 0x80)) value |= ~uint64_t{0} << (8 * n);
      obj(index).number = static_cast<int64_t>(value);
    }
    push(index);
  }

  void push_global(std::string name, size_t at) {
    if (!is_allowed_global(name)) {
      fail(at, str("refused global ", name,
                   ": nwq reads only state dicts (tensors, dicts, numbers,"
                   " strings) and never runs code from a checkpoint"));
    }
    const int index = make(PickleKind::Global);
    obj(index).text = std::move(name);
    push(index);
  }

  // APPEND(S), SETITEM(S): items (popped already) go into the dict or list now on top.
  void add_items(const std::vector<int>& items, size_t at) {
    const int target = top(at);
    const PickleKind kind = obj(target).kind;
    if (kind == PickleKind::Dict) {
      if (items.size() % 2 != 0) fail(at, "SETITEMS with an odd number of values");
    } else if (kind != PickleKind::List) {
      fail(at, "adds items to a value that is neither a dict nor a list");
    }
    for (int item : items) obj(target).items.push_back(item);
  }

  int64_t int_arg(int index, size_t at, const char* what) {
    if (obj(index).kind != PickleKind::Int || obj(index).text.size() > 8) {
      fail(at, str(what, " must be an integer"));
    }
    return obj(index).number;
  }
  std::vector<int64_t> int_tuple(int index, size_t at, const char* what) {
    if (obj(index).kind != PickleKind::Tuple) fail(at, str(what, " must be a tuple"));
    std::vector<int64_t> values;
    for (int item : obj(index).items) values.push_back(int_arg(item, at, what));
    return values;
  }

  // REDUCE: the callable is one of the allowed globals, interpreted here.
  void reduce(size_t at) {
    const int args = pop(at), callable = pop(at);
    if (obj(callable).kind != PickleKind::Global || obj(args).kind != PickleKind::Tuple) {
      fail(at, "REDUCE needs a global and a tuple of arguments");
    }
    const std::string name = obj(callable).text;
    const std::vector<int> arg = obj(args).items;
    if (name == "collections.OrderedDict") {
      if (!arg.empty()) fail(at, "collections.OrderedDict with arguments is not supported");
      push(make(PickleKind::Dict));
    } else if (name == "torch._utils._rebuild_tensor_v2") {
      if (arg.size() < 4 || obj(arg[0]).kind != PickleKind::Storage) {
        fail(at, "_rebuild_tensor_v2 needs (storage, offset, size, stride, ...)");
      }
      const int64_t offset = int_arg(arg[1], at, "tensor offset");
      std::vector<int64_t> sizes = int_tuple(arg[2], at, "tensor size");
      std::vector<int64_t> strides = int_tuple(arg[3], at, "tensor stride");
      const int index = make(PickleKind::Tensor);
      obj(index).storage = arg[0];
      obj(index).storage_type = obj(arg[0]).storage_type;
      obj(index).offset = offset;
      obj(index).sizes = std::move(sizes);
      obj(index).strides = std::move(strides);
      push(index);
    } else if (name == "torch._utils._rebuild_parameter") {
      if (arg.empty() || obj(arg[0]).kind != PickleKind::Tensor) {
        fail(at, "_rebuild_parameter needs a tensor");
      }
      push(arg[0]);
    } else {
      fail(at, str("refused call of ", name));
    }
  }

  // BINPERSID: ('storage', torch.<T>Storage, key, location, numel[, view]) names a storage.
  void persistent_id(size_t at) {
    const int pid = pop(at);
    const PickleObject& t = obj(pid);
    const bool shape_ok =
        t.kind == PickleKind::Tuple && (t.items.size() == 5 || t.items.size() == 6);
    if (!shape_ok || obj(t.items[0]).kind != PickleKind::String ||
        obj(t.items[0]).text != "storage" || obj(t.items[1]).kind != PickleKind::Global ||
        (obj(t.items[2]).kind != PickleKind::String && obj(t.items[2]).kind != PickleKind::Int)) {
      fail(at, "persistent id is not ('storage', type, key, location, size)");
    }
    if (t.items.size() == 6 && obj(t.items[5]).kind != PickleKind::None) {
      fail(at, "storage views of torch < 0.4 files are not supported");
    }
    const std::string type = obj(t.items[1]).text;
    if (type.rfind("torch.", 0) != 0) fail(at, str("persistent id type ", type, " is no storage"));
    const PickleObject& key = obj(t.items[2]);
    const std::string key_text = key.kind == PickleKind::String ? key.text : str(key.number);
    const int64_t numel = int_arg(t.items[4], at, "storage size");
    const int index = make(PickleKind::Storage);
    obj(index).storage_type = type.substr(6);
    obj(index).text = key_text;
    obj(index).number = numel;
    push(index);
  }

  // One opcode (its name in pickletools' spelling in the comments); anything else is refused.
  // clang-format off
  void step(uint8_t op, size_t at) {
    switch (op) {
      case 0x80: take(1); break;                                         // PROTO
      case 0x95: take(8); break;                                         // FRAME (framing only)
      case '(': marks_.push_back(stack_.size()); break;                  // MARK
      case '}': push(make(PickleKind::Dict)); break;                     // EMPTY_DICT
      case ']': push(make(PickleKind::List)); break;                     // EMPTY_LIST
      case ')': push_tuple({}); break;                                   // EMPTY_TUPLE
      case 'N': push(make(PickleKind::None)); break;                     // NONE
      case 0x88: case 0x89: push_bool(op == 0x88); break;                // NEWTRUE, NEWFALSE
      case 'K': push_int(static_cast<int64_t>(take_le(1))); break;       // BININT1
      case 'M': push_int(static_cast<int64_t>(take_le(2))); break;       // BININT2
      case 'J': push_int(static_cast<int32_t>(take_le(4))); break;       // BININT
      case 0x8a: push_long(take_le(1)); break;                           // LONG1
      case 'G': push_float(); break;                                     // BINFLOAT
      case 'X': push_text(PickleKind::String, take_le(4)); break;        // BINUNICODE
      case 0x8c: push_text(PickleKind::String, take_le(1)); break;       // SHORT_BINUNICODE
      case 'T': push_text(PickleKind::String, take_le(4)); break;        // BINSTRING
      case 'U': push_text(PickleKind::String, take_le(1)); break;        // SHORT_BINSTRING
      case 'B': push_text(PickleKind::Bytes, take_le(4)); break;         // BINBYTES
      case 'C': push_text(PickleKind::Bytes, take_le(1)); break;         // SHORT_BINBYTES
      case 'q': memo_put(take_le(1), at); break;                         // BINPUT
      case 'r': memo_put(take_le(4), at); break;                         // LONG_BINPUT
      case 0x94: memo_put(memo_.size(), at); break;                      // MEMOIZE
      case 'h': memo_get(take_le(1), at); break;                         // BINGET
      case 'j': memo_get(take_le(4), at); break;                         // LONG_BINGET
      case 't': push_tuple(pop_to_mark(at)); break;                      // TUPLE
      case 0x85: push_tuple(pop_n(1, at)); break;                        // TUPLE1
      case 0x86: push_tuple(pop_n(2, at)); break;                        // TUPLE2
      case 0x87: push_tuple(pop_n(3, at)); break;                        // TUPLE3
      case 'a': add_items(pop_n(1, at), at); break;                      // APPEND
      case 's': add_items(pop_n(2, at), at); break;                      // SETITEM
      case 'e': case 'u': add_items(pop_to_mark(at), at); break;         // APPENDS, SETITEMS
      case 'c': global(at); break;                                       // GLOBAL
      case 0x93: stack_global(at); break;                                // STACK_GLOBAL
      case 'R': reduce(at); break;                                       // REDUCE
      case 'Q': persistent_id(at); break;                                // BINPERSID
      case 'b': build(at); break;                                        // BUILD
      default:
        fail(at, str("refused pickle opcode 0x", "0123456789abcdef"[op >> 4],
                     "0123456789abcdef"[op & 15],
                     (op >= 32 && op < 127) ? str(" ('", char(op), "')") : std::string(),
                     ": nwq reads only the opcodes a state dict needs"));
    }
  }
  // clang-format on

  void push_bool(bool value) {
    const int index = make(PickleKind::Bool);
    obj(index).number = value;
    push(index);
  }
  // BINFLOAT: a big-endian IEEE double.
  void push_float() {
    const uint8_t* p = take(8);
    uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];
    const int index = make(PickleKind::Float);
    std::memcpy(&obj(index).real, &bits, 8);
    push(index);
  }
  // The last n values, in stack order.
  std::vector<int> pop_n(size_t n, size_t at) {
    std::vector<int> values(n);
    for (size_t i = n; i-- > 0;) values[i] = pop(at);
    return values;
  }
  // STACK_GLOBAL: module and name strings from the stack.
  void stack_global(size_t at) {
    const int name = pop(at), module = pop(at);
    if (obj(name).kind != PickleKind::String || obj(module).kind != PickleKind::String) {
      fail(at, "STACK_GLOBAL needs two strings");
    }
    push_global(obj(module).text + "." + obj(name).text, at);
  }
  // BUILD: the state of a dict (OrderedDict's _metadata) or a tensor is read and dropped.
  void build(size_t at) {
    pop(at);
    const PickleKind kind = obj(top(at)).kind;
    if (kind != PickleKind::Dict && kind != PickleKind::Tensor) {
      fail(at, "BUILD on an unsupported value");
    }
  }
  // GLOBAL: "module\nname\n" in the opcode's argument.
  void global(size_t at) {
    const std::string module = take_line();
    push_global(module + "." + take_line(), at);
  }

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& label_;
  std::vector<int> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, int> memo_;
  PickleData out_;
};

}  // namespace

bool is_known_storage_type(const std::string& name) {
  for (const char* type : kStorageTypes) {
    if (name == type) return true;
  }
  return false;
}

PickleData read_pickle(const uint8_t* data, size_t size, const std::string& label) {
  return Reader(data, size, label).run();
}

int pickle_dict_get(const PickleData& pickle, int dict, const std::string& key) {
  const PickleObject& d = pickle.objects[static_cast<size_t>(dict)];
  if (d.kind != PickleKind::Dict) return -1;
  for (size_t i = 0; i + 1 < d.items.size(); i += 2) {
    const PickleObject& k = pickle.objects[static_cast<size_t>(d.items[i])];
    if (k.kind == PickleKind::String && k.text == key) return d.items[i + 1];
  }
  return -1;
}

}  // namespace nwq
