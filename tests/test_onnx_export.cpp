// ONNX export: the protobuf writer against hand-computed bytes, the QDQ and float graphs of the
// supported models (node counts, types, opsets), and `nwq export`'s errors. Running the exported
// models with ONNX Runtime is `make check-onnx` (scripts/check_onnx.sh).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/file_util.h"
#include "deploy/onnx_export.h"
#include "models/layers.h"
#include "models/mobilenet_v2.h"
#include "models/registry.h"
#include "ops/fake_quant.h"
#include "quant/export.h"
#include "quant/reconstruct.h"
#include "tests/helpers.h"
#include "tests/quant_test_util.h"
#include "tests/temp_dir.h"
#include "tools/lib/commands.h"

using namespace nwq;
using nwq::test::TempDir;

namespace {

using Bytes = std::vector<uint8_t>;

Bytes bytes_of(const std::string& s) { return Bytes(s.begin(), s.end()); }
Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::map<std::string, int> op_counts(const OnnxGraph& g) {
  std::map<std::string, int> counts;
  for (const auto& n : g.nodes) ++counts[n.op_type];
  return counts;
}

const OnnxTensor& initializer(const OnnxGraph& g, const std::string& name) {
  for (const auto& t : g.initializers)
    if (t.name == name) return t;
  FAIL("no initializer " << name);
  throw Error("unreachable");
}

// resnet20 for 1x8x8 inputs, W4A4 by RTN (first/last layers and last input at 8 bits).
std::shared_ptr<QuantModel> rtn_resnet20() {
  static std::shared_ptr<QuantModel> cached;
  if (cached) return cached;
  ModelPtr model = create_model("resnet20", 10, 1, 3);
  test::randomize_all_bn(*model, 5);
  const Tensor calib = test::rand32({4, 1, 8, 8}, 21);
  QuantConfig c = preset_config("rtn", "resnet20");
  c.wbits = 4, c.abits = 4, c.calib = 4, c.init_images = 4;
  cached = std::make_shared<QuantModel>(model, calib.slice(0, 0, 2), c);
  calibrate(*cached, calib);
  return cached;
}

std::string export_error(const std::vector<std::string>& args) {
  try {
    cmd_export(args);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("onnx writer: varints and scalar fields are protobuf's bytes") {
  auto varint = [](uint64_t v) {
    ProtoWriter w;
    w.varint(v);
    return w.bytes();
  };
  CHECK(varint(0) == Bytes{0x00});
  CHECK(varint(1) == Bytes{0x01});
  CHECK(varint(127) == Bytes{0x7f});
  CHECK(varint(128) == Bytes{0x80, 0x01});
  CHECK(varint(300) == Bytes{0xac, 0x02});
  ProtoWriter w;
  w.int_field(1, 150);  // the protobuf documentation's example: 08 96 01
  CHECK(w.bytes() == Bytes{0x08, 0x96, 0x01});
  ProtoWriter negative;  // int64 -1: ten bytes of two's complement
  negative.int_field(1, -1);
  CHECK(negative.bytes() == Bytes{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01});
  ProtoWriter s;
  s.string_field(2, "testing");  // 12 07 "testing"
  CHECK(s.bytes() == cat({{0x12, 0x07}, bytes_of("testing")}));
  ProtoWriter f;
  f.float_field(2, 1.0f);  // wire type 5, little-endian IEEE 754
  CHECK(f.bytes() == Bytes{0x15, 0x00, 0x00, 0x80, 0x3f});
  ProtoWriter big;
  big.int_field(20, 7);  // field 20: tag 160 takes two bytes
  CHECK(big.bytes() == Bytes{0xa0, 0x01, 0x07});
}

TEST_CASE("onnx writer: tensors, attributes, nodes, value infos and models") {
  // TensorProto: dims (1), data_type (2), name (8), raw_data (9).
  CHECK(encode_tensor(onnx_code_tensor("w", {2}, {1, 2}, OnnxType::Uint8)) ==
        Bytes{0x08, 0x02, 0x10, 0x02, 0x42, 0x01, 'w', 0x4a, 0x02, 0x01, 0x02});
  CHECK(encode_tensor(onnx_float_tensor("s", {}, {1.0f})) ==
        Bytes{0x10, 0x01, 0x42, 0x01, 's', 0x4a, 0x04, 0x00, 0x00, 0x80, 0x3f});
  CHECK(encode_tensor(onnx_int64_tensor("p", {1}, {-1})).size() == 2 + 2 + 3 + 2 + 8);
  // UINT4: two codes a byte, the first in the low nibble; an odd count leaves the top nibble 0.
  const OnnxTensor u4 = onnx_code_tensor("c", {3}, {1, 2, 15}, OnnxType::Uint4);
  CHECK(u4.raw == Bytes{0x21, 0x0f});
  CHECK(encode_tensor(u4) == Bytes{0x08, 0x03, 0x10, 0x15, 0x42, 0x01, 'c', 0x4a, 0x02, 0x21, 0x0f});
  CHECK_THROWS_WITH_AS(onnx_code_tensor("layer.codes", {1}, {16}, OnnxType::Uint4),
                       doctest::Contains("layer.codes"), Error);

  // AttributeProto: name (1), f (2), i (3), ints (8, one field per value), type (20).
  CHECK(encode_attribute(onnx_attr("pads", std::vector<int64_t>{1, 0})) ==
        cat({{0x0a, 0x04}, bytes_of("pads"), {0x40, 0x01, 0x40, 0x00, 0xa0, 0x01, 0x07}}));
  CHECK(encode_attribute(onnx_attr("axis", 0)) ==
        cat({{0x0a, 0x04}, bytes_of("axis"), {0x18, 0x00, 0xa0, 0x01, 0x02}}));
  CHECK(encode_attribute(onnx_attr_float("alpha", 0.5f)) ==
        cat({{0x0a, 0x05}, bytes_of("alpha"), {0x15, 0x00, 0x00, 0x00, 0x3f, 0xa0, 0x01, 0x01}}));

  // NodeProto: input (1), output (2), name (3, omitted when empty), op_type (4), attribute (5).
  OnnxNode relu{"Relu", "", {"x"}, {"y"}, {}};
  CHECK(encode_node(relu) == cat({{0x0a, 0x01, 'x', 0x12, 0x01, 'y', 0x22, 0x04}, bytes_of("Relu")}));
  OnnxNode flat{"Flatten", "f", {"x"}, {"y"}, {onnx_attr("axis", 1)}};
  const Bytes attr = encode_attribute(onnx_attr("axis", 1));
  CHECK(encode_node(flat) == cat({{0x0a, 0x01, 'x', 0x12, 0x01, 'y', 0x1a, 0x01, 'f', 0x22, 0x07},
                                  bytes_of("Flatten"), {0x2a, uint8_t(attr.size())}, attr}));

  // ValueInfoProto { name, type { tensor_type { elem_type, shape { dim { param "N" } dim { 3 } } } } }
  OnnxValueInfo info{"x", OnnxType::Float, {{0, "N"}, {3, ""}}};
  const Bytes dims = {0x0a, 0x03, 0x12, 0x01, 'N', 0x0a, 0x02, 0x08, 0x03};
  const Bytes shape = cat({{0x12, uint8_t(dims.size())}, dims});
  const Bytes tensor_type = cat({{0x08, 0x01}, shape});
  const Bytes type = cat({{0x0a, uint8_t(tensor_type.size())}, tensor_type});
  CHECK(encode_value_info(info) == cat({{0x0a, 0x01, 'x', 0x12, uint8_t(type.size())}, type}));

  // ModelProto: ir_version (1), producer_name (2), graph (7), opset_import (8), metadata (14).
  OnnxModel m;
  m.graph.name = "g";
  m.graph.nodes.push_back(relu);
  m.metadata.push_back({"k", "v"});
  const Bytes node = encode_node(relu);
  const Bytes graph = cat({{0x0a, uint8_t(node.size())}, node, {0x12, 0x01, 'g'}});
  CHECK(encode_graph(m.graph) == graph);
  CHECK(encode_model(m) == cat({{0x08, 0x07, 0x12, 0x03}, bytes_of("nwq"),
                                {0x3a, uint8_t(graph.size())}, graph,
                                {0x42, 0x04, 0x0a, 0x00, 0x10, 0x0d},
                                {0x72, 0x06, 0x0a, 0x01, 'k', 0x12, 0x01, 'v'}}));
}

TEST_CASE("onnx export: uint8 QuantizeLinear, DequantizeLinear, then Clip equals b-bit fake_quant") {
  // The graph's formulation (docs/DEPLOY.md), computed as the ONNX spec says in float, against
  // nwq's kernel, on random values and on the floats around every rounding boundary.
  const float s = 0.0371f;
  for (int bits : {2, 3, 4, 6, 8}) {
    const int64_t qmax = (int64_t{1} << bits) - 1;
    for (float z : {0.0f, 3.0f}) {
      std::vector<float> xs;
      for (int k = -8; k < 300; ++k) {
        float b = (float(k) + 0.5f) * s;
        for (int d = 0; d < 3; ++d) {
          xs.push_back(b);
          xs.push_back(std::nextafter(b, 1e9f));
          b = std::nextafter(b, -1e9f);
        }
      }
      const Tensor x = Tensor::from_vector(xs, {int64_t(xs.size())});
      const std::vector<float> nwq_y =
          fake_quant(x, Tensor::from_vector(std::vector<float>{s}, {1}),
                     Tensor::from_vector(std::vector<float>{z}, {1}), 0, qmax).to_vector<float>();
      const float lo = float(0 - int(z)) * s, hi = float(int(qmax) - int(z)) * s;
      int mismatches = 0;
      for (size_t i = 0; i < xs.size(); ++i) {
        float q = std::nearbyint(xs[i] / s) + z;           // QuantizeLinear: half to even
        q = std::min(255.0f, std::max(0.0f, q));           // saturate to uint8
        float y = float(int(q) - int(z)) * s;              // DequantizeLinear
        if (bits < 8) y = std::min(hi, std::max(lo, y));   // Clip
        mismatches += y != nwq_y[i];
      }
      CAPTURE(bits);
      CAPTURE(z);
      CHECK(mismatches == 0);
    }
  }
}

TEST_CASE("onnx export: a W4A4 resnet20 becomes a QDQ graph with UINT4 codes at opset 21") {
  QuantModel& qm = *rtn_resnet20();
  OnnxExportOptions o;
  o.channels = 1, o.height = 8, o.width = 8;
  const OnnxModel m = quantized_to_onnx(qm, "resnet20", o);
  CHECK(m.opset == 21);
  CHECK(m.ir_version == 10);
  std::map<std::string, int> ops = op_counts(m.graph);
  const int layers = int(qm.layers().size()), acts = int(qm.acts().size());
  int low_bit_acts = 0;
  for (const auto& a : qm.acts()) low_bit_acts += a.quantizer->bits() < 8;
  CHECK(layers == 20);
  CHECK(ops["QuantizeLinear"] == acts);
  CHECK(ops["DequantizeLinear"] == acts + layers);  // one per activation, one per weight
  CHECK(ops["Clip"] == low_bit_acts);               // the 4-bit clamp inside uint8's range
  CHECK(ops["Conv"] == 19);
  CHECK(ops["Gemm"] == 1);
  CHECK(ops["Add"] == 9);
  CHECK(ops["Pad"] == 2);    // the two option-A shortcuts
  CHECK(ops["Slice"] == 2);
  CHECK(ops.count("BatchNormalization") == 0);  // folded into the weights
  // The first and last layers stay 8-bit (UINT8), the others are UINT4; codes keep the shape.
  CHECK(initializer(m.graph, "conv1.weight_codes").type == OnnxType::Uint8);
  const OnnxTensor& codes = initializer(m.graph, "layer1.0.conv1.weight_codes");
  CHECK(codes.type == OnnxType::Uint4);
  CHECK(codes.dims == std::vector<int64_t>{16, 16, 3, 3});
  CHECK(codes.raw.size() == size_t(16 * 16 * 9 / 2));
  CHECK(initializer(m.graph, "linear.weight_codes").type == OnnxType::Uint8);
  CHECK(m.graph.nodes.back().outputs[0] == "logits");
  CHECK(m.graph.inputs[0].dims[0].param == "N");
  CHECK(m.graph.inputs[0].dims[1].value == 1);
  CHECK(m.graph.outputs[0].dims[1].value == 10);

  o.uint4_weights = false;  // --opset 13: every code UINT8
  const OnnxModel m13 = quantized_to_onnx(qm, "resnet20", o);
  CHECK(m13.opset == 13);
  CHECK(initializer(m13.graph, "layer1.0.conv1.weight_codes").type == OnnxType::Uint8);
  CHECK(op_counts(m13.graph) == ops);
}

TEST_CASE("onnx export: float graphs keep BatchNorm; MobileNetV2's ReLU6 is Clip(0, 6)") {
  ModelPtr model = create_model("mobilenetv2_cifar", 10, 3, 0);
  model->eval();
  int convs = 0, residuals = 0;
  for (auto& [path, m] : model->named_modules()) {
    convs += dynamic_cast<Conv2d*>(m) != nullptr;
    if (auto* r = dynamic_cast<InvertedResidual*>(m)) residuals += r->use_res_connect();
  }
  const OnnxModel m = float_to_onnx(*model, "mobilenetv2_cifar", OnnxExportOptions{});
  CHECK(m.opset == 13);
  std::map<std::string, int> ops = op_counts(m.graph);
  CHECK(ops["Conv"] == convs);
  CHECK(ops["BatchNormalization"] == convs);
  CHECK(ops["Add"] == residuals);
  CHECK(ops["Clip"] == 35);  // every conv_bn_relu6: 17 blocks' depthwise + 16 expansions + 2
  CHECK(ops["Gemm"] == 1);
  CHECK(ops.count("QuantizeLinear") == 0);
  for (const auto& n : m.graph.nodes)
    if (n.op_type == "Conv" && n.name == "features.2.conv.1.0")
      for (const auto& a : n.attributes)
        if (a.name == "group") CHECK(a.i == 96);  // depthwise

  ModelPtr regnet = create_model("regnet_x_600mf", 10, 3, 0);
  CHECK_THROWS_WITH_AS(float_to_onnx(*regnet, "regnet_x_600mf", OnnxExportOptions{}),
                       doctest::Contains("not supported"), Error);
}

TEST_CASE("export cli: errors name the flag or file and write nothing") {
  TempDir dir;
  const std::string fp = dir / "fp.safetensors", q = dir / "q.safetensors";
  const std::string out = dir / "m.onnx";
  create_model("resnet20", 10, 1, 0)->save(fp, {{"model", "resnet20"}});
  save_quantized(*rtn_resnet20(), "resnet20", q);

  CHECK(contains(export_error({"--out", out}), "--weights"));
  CHECK(contains(export_error({"--weights", q}), "--out"));
  CHECK(contains(export_error({"--weights", q, "--out", out, "--format", "tflite"}), "--format"));
  CHECK(contains(export_error({"--weights", fp, "--out", out}), "not one"));  // FP as onnx
  CHECK(contains(export_error({"--weights", fp, "--out", out}), fp));
  CHECK(contains(export_error({"--weights", q, "--out", out, "--format", "onnx-float"}), q));
  CHECK(contains(export_error({"--weights", q, "--out", "/no/such/dir/m.onnx"}), "--out"));
  CHECK(contains(export_error({"--weights", q, "--out", out, "--input", "1,8"}), "--input"));
  CHECK(contains(export_error({"--weights", q, "--out", out, "--opset", "17"}), "--opset"));
  CHECK(contains(export_error({"--weights", dir / "none.safetensors", "--out", out}), "none.safetensors"));
  CHECK(contains(export_error({"--weights", q, "--out", out, "--input", "3,8,8"}), "--input 3,8,8"));
  CHECK(contains(export_error({"--weights", q, "--out", out, "--images", fp}), "--logits"));
  CHECK_FALSE(std::filesystem::exists(out));
  for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
    CHECK_MESSAGE(entry.path().extension() != ".onnx", entry.path());  // no partial file

  CHECK(export_error({"--weights", q, "--out", out, "--input", "1,8,8"}) == "");
  const std::vector<uint8_t> bytes = read_file_bytes(out);
  REQUIRE(bytes.size() > 2);
  CHECK(bytes[0] == 0x08);   // ModelProto.ir_version
  CHECK(bytes[1] == 10);     // opset 21 (4-bit weights as UINT4)
  CHECK(export_error({"--weights", fp, "--out", out, "--format", "onnx-float", "--input", "1,8,8"}) == "");
  CHECK(read_file_bytes(out)[1] == 7);
}
