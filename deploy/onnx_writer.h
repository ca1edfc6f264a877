// A small protobuf encoder for the part of onnx.proto that nwq writes: ModelProto, GraphProto,
// NodeProto, AttributeProto, TensorProto and ValueInfoProto (field numbers from onnx/onnx.proto).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace nwq {

// TensorProto.DataType values used here.
enum class OnnxType : int32_t { Float = 1, Uint8 = 2, Int8 = 3, Int32 = 6, Int64 = 7, Uint4 = 21 };

// Appends protobuf wire-format fields to a byte buffer. Wire types: 0 varint, 2 length-delimited,
// 5 fixed 32 bits. Negative int64 values take 10 bytes (two's complement), as protobuf does.
class ProtoWriter {
 public:
  void varint(uint64_t value);
  void tag(int field, int wire_type);
  void int_field(int field, int64_t value);
  void float_field(int field, float value);
  void bytes_field(int field, const void* data, size_t size);
  void string_field(int field, const std::string& value);
  void message_field(int field, const ProtoWriter& message);
  const std::vector<uint8_t>& bytes() const { return out_; }

 private:
  std::vector<uint8_t> out_;
};

// A TensorProto with its data in raw_data (little-endian, row-major; UINT4 packs two codes a
// byte, the first in the low nibble).
struct OnnxTensor {
  std::string name;
  OnnxType type = OnnxType::Float;
  std::vector<int64_t> dims;
  std::vector<uint8_t> raw;
};
OnnxTensor onnx_float_tensor(const std::string& name, const std::vector<int64_t>& dims,
                             const std::vector<float>& values);
OnnxTensor onnx_int64_tensor(const std::string& name, const std::vector<int64_t>& dims,
                             const std::vector<int64_t>& values);
// Codes in [0, 255] (Uint8) or [0, 15] (Uint4, packed); throws on a code that does not fit.
OnnxTensor onnx_code_tensor(const std::string& name, const std::vector<int64_t>& dims,
                            const std::vector<uint8_t>& codes, OnnxType type);

struct OnnxAttribute {
  enum class Kind { Int = 2, Float = 1, String = 3, Ints = 7 };
  std::string name;
  Kind kind = Kind::Int;
  int64_t i = 0;
  float f = 0;
  std::string s;
  std::vector<int64_t> ints;
};
OnnxAttribute onnx_attr(const std::string& name, int64_t value);
OnnxAttribute onnx_attr(const std::string& name, const std::vector<int64_t>& values);
OnnxAttribute onnx_attr_float(const std::string& name, float value);

struct OnnxNode {
  std::string op_type, name;
  std::vector<std::string> inputs, outputs;
  std::vector<OnnxAttribute> attributes;
};

// A graph input or output: a tensor type with a shape; a dimension is a number or, when
// `param` is not empty, a symbolic name (the batch size "N").
struct OnnxDim {
  int64_t value = 0;
  std::string param;
};
struct OnnxValueInfo {
  std::string name;
  OnnxType type = OnnxType::Float;
  std::vector<OnnxDim> dims;
};

struct OnnxGraph {
  std::string name;
  std::vector<OnnxNode> nodes;  // in topological order
  std::vector<OnnxTensor> initializers;
  std::vector<OnnxValueInfo> inputs, outputs;
};

struct OnnxModel {
  int64_t ir_version = 7;
  int64_t opset = 13;  // of the default domain ""
  std::string producer_name = "nwq", producer_version, doc_string;
  std::vector<std::pair<std::string, std::string>> metadata;  // metadata_props
  OnnxGraph graph;
};

// The serialized messages (each a complete protobuf message, without an outer tag).
std::vector<uint8_t> encode_tensor(const OnnxTensor& tensor);
std::vector<uint8_t> encode_attribute(const OnnxAttribute& attribute);
std::vector<uint8_t> encode_node(const OnnxNode& node);
std::vector<uint8_t> encode_value_info(const OnnxValueInfo& info);
std::vector<uint8_t> encode_graph(const OnnxGraph& graph);
std::vector<uint8_t> encode_model(const OnnxModel& model);

}  // namespace nwq
