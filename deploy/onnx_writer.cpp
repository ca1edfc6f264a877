// Protobuf wire encoding of the ONNX messages in deploy/onnx_writer.h. Fields are written in
// field-number order where that is easy; protobuf readers accept any order.
#include "deploy/onnx_writer.h"

#include <cstring>

#include "core/error.h"

namespace nwq {

namespace {

constexpr int kVarint = 0, kLengthDelimited = 2, kFixed32 = 5;

void append_le(std::vector<uint8_t>& out, const void* data, size_t size) {
  // nwq targets little-endian machines (x86-64, aarch64), so the bytes are already in order.
  const auto* p = static_cast<const uint8_t*>(data);
  out.insert(out.end(), p, p + size);
}

// Writes `bytes` (an encoded message) as field `field` of w.
void embed(ProtoWriter& w, int field, const std::vector<uint8_t>& bytes) {
  w.bytes_field(field, bytes.data(), bytes.size());
}

}  // namespace

void ProtoWriter::varint(uint64_t value) {
  while (value >= 0x80) {
    out_.push_back(uint8_t(value | 0x80));
    value >>= 7;
  }
  out_.push_back(uint8_t(value));
}

void ProtoWriter::tag(int field, int wire_type) { varint(uint64_t(field) << 3 | uint64_t(wire_type)); }

void ProtoWriter::int_field(int field, int64_t value) {
  tag(field, kVarint);
  varint(static_cast<uint64_t>(value));
}

void ProtoWriter::float_field(int field, float value) {
  tag(field, kFixed32);
  append_le(out_, &value, sizeof value);
}

void ProtoWriter::bytes_field(int field, const void* data, size_t size) {
  tag(field, kLengthDelimited);
  varint(size);
  if (size) append_le(out_, data, size);
}

void ProtoWriter::string_field(int field, const std::string& value) {
  bytes_field(field, value.data(), value.size());
}

void ProtoWriter::message_field(int field, const ProtoWriter& message) {
  bytes_field(field, message.bytes().data(), message.bytes().size());
}

// ---------------------------------------------------------------- tensors

OnnxTensor onnx_float_tensor(const std::string& name, const std::vector<int64_t>& dims,
                             const std::vector<float>& values) {
  OnnxTensor t{name, OnnxType::Float, dims, {}};
  append_le(t.raw, values.data(), values.size() * sizeof(float));
  return t;
}

OnnxTensor onnx_int64_tensor(const std::string& name, const std::vector<int64_t>& dims,
                             const std::vector<int64_t>& values) {
  OnnxTensor t{name, OnnxType::Int64, dims, {}};
  append_le(t.raw, values.data(), values.size() * sizeof(int64_t));
  return t;
}

OnnxTensor onnx_code_tensor(const std::string& name, const std::vector<int64_t>& dims,
                            const std::vector<uint8_t>& codes, OnnxType type) {
  NWQ_CHECK(type == OnnxType::Uint8 || type == OnnxType::Uint4, "onnx_code_tensor: ", name,
            ": codes are stored as UINT8 or UINT4");
  OnnxTensor t{name, type, dims, {}};
  if (type == OnnxType::Uint8) {
    t.raw = codes;
    return t;
  }
  t.raw.assign((codes.size() + 1) / 2, 0);
  for (size_t i = 0; i < codes.size(); ++i) {
    NWQ_CHECK(codes[i] <= 15, "onnx_code_tensor: ", name, ": code ", int(codes[i]),
              " does not fit 4 bits");
    t.raw[i / 2] |= uint8_t(codes[i] << (i % 2 ? 4 : 0));
  }
  return t;
}

std::vector<uint8_t> encode_tensor(const OnnxTensor& t) {
  ProtoWriter w;
  for (int64_t d : t.dims) w.int_field(1, d);     // dims
  w.int_field(2, static_cast<int32_t>(t.type));   // data_type
  w.string_field(8, t.name);                      // name
  w.bytes_field(9, t.raw.data(), t.raw.size());   // raw_data
  return w.bytes();
}

// ---------------------------------------------------------------- attributes and nodes

OnnxAttribute onnx_attr(const std::string& name, int64_t value) {
  OnnxAttribute a;
  a.name = name;
  a.kind = OnnxAttribute::Kind::Int;
  a.i = value;
  return a;
}

OnnxAttribute onnx_attr(const std::string& name, const std::vector<int64_t>& values) {
  OnnxAttribute a;
  a.name = name;
  a.kind = OnnxAttribute::Kind::Ints;
  a.ints = values;
  return a;
}

OnnxAttribute onnx_attr_float(const std::string& name, float value) {
  OnnxAttribute a;
  a.name = name;
  a.kind = OnnxAttribute::Kind::Float;
  a.f = value;
  return a;
}

std::vector<uint8_t> encode_attribute(const OnnxAttribute& a) {
  ProtoWriter w;
  w.string_field(1, a.name);  // name
  switch (a.kind) {
    case OnnxAttribute::Kind::Float: w.float_field(2, a.f); break;   // f
    case OnnxAttribute::Kind::Int: w.int_field(3, a.i); break;       // i
    case OnnxAttribute::Kind::String: w.string_field(4, a.s); break; // s
    case OnnxAttribute::Kind::Ints:
      for (int64_t v : a.ints) w.int_field(8, v);  // ints (proto2: not packed)
      break;
  }
  w.int_field(20, static_cast<int>(a.kind));  // type
  return w.bytes();
}

std::vector<uint8_t> encode_node(const OnnxNode& n) {
  ProtoWriter w;
  for (const auto& in : n.inputs) w.string_field(1, in);
  for (const auto& out : n.outputs) w.string_field(2, out);
  if (!n.name.empty()) w.string_field(3, n.name);
  w.string_field(4, n.op_type);
  for (const auto& a : n.attributes) embed(w, 5, encode_attribute(a));
  return w.bytes();
}

// ---------------------------------------------------------------- value infos, graph, model

std::vector<uint8_t> encode_value_info(const OnnxValueInfo& v) {
  ProtoWriter shape;  // TensorShapeProto
  for (const OnnxDim& d : v.dims) {
    ProtoWriter dim;  // TensorShapeProto.Dimension: dim_value 1, dim_param 2
    if (d.param.empty()) dim.int_field(1, d.value);
    else dim.string_field(2, d.param);
    shape.message_field(1, dim);
  }
  ProtoWriter tensor_type;  // TypeProto.Tensor: elem_type 1, shape 2
  tensor_type.int_field(1, static_cast<int32_t>(v.type));
  tensor_type.message_field(2, shape);
  ProtoWriter type;  // TypeProto: tensor_type 1
  type.message_field(1, tensor_type);
  ProtoWriter w;
  w.string_field(1, v.name);
  w.message_field(2, type);
  return w.bytes();
}

std::vector<uint8_t> encode_graph(const OnnxGraph& g) {
  ProtoWriter w;
  for (const auto& n : g.nodes) embed(w, 1, encode_node(n));
  w.string_field(2, g.name);
  for (const auto& t : g.initializers) embed(w, 5, encode_tensor(t));
  for (const auto& v : g.inputs) embed(w, 11, encode_value_info(v));
  for (const auto& v : g.outputs) embed(w, 12, encode_value_info(v));
  return w.bytes();
}

std::vector<uint8_t> encode_model(const OnnxModel& m) {
  ProtoWriter w;
  w.int_field(1, m.ir_version);
  w.string_field(2, m.producer_name);
  if (!m.producer_version.empty()) w.string_field(3, m.producer_version);
  if (!m.doc_string.empty()) w.string_field(6, m.doc_string);
  embed(w, 7, encode_graph(m.graph));
  ProtoWriter opset;  // OperatorSetIdProto: domain 1 (empty: the default), version 2
  opset.string_field(1, "");
  opset.int_field(2, m.opset);
  w.message_field(8, opset);
  for (const auto& [key, value] : m.metadata) {
    ProtoWriter entry;  // StringStringEntryProto: key 1, value 2
    entry.string_field(1, key);
    entry.string_field(2, value);
    w.message_field(14, entry);
  }
  return w.bytes();
}

}  // namespace nwq
