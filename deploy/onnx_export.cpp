// Whole models to ONNX: the blocks of each supported family (stem, residual blocks, head), the
// block-output quantizers of a QuantModel, the graph's input and output, and the file.
#include "deploy/onnx_export.h"

#include <map>

#include "core/error.h"
#include "core/file_util.h"
#include "deploy/onnx_emitter.h"
#include "models/layers.h"
#include "models/mobilenet_v2.h"
#include "models/resnet.h"
#include "models/resnet_cifar.h"

namespace nwq {

namespace {

void check_supported(const Model& model) {
  NWQ_CHECK(dynamic_cast<const CifarResNet*>(&model) || dynamic_cast<const ResNet*>(&model) ||
                dynamic_cast<const MobileNetV2*>(&model),
            "onnx export: models of type ", model.type_name(),
            " are not supported (CIFAR ResNets, ResNet-18/34/50 and MobileNetV2 are)");
}

std::string pool_flatten(OnnxEmitter& e, const std::string& x) {
  return e.node("Flatten", {e.node("GlobalAveragePool", {x}, "head.pool")}, "head.flatten",
                {onnx_attr("axis", 1)});
}

// One of model.blocks(): a block named by a module path ("layer1.0", "features.3") is that
// module; "stem" and "head" are written out per family, as each model's blocks() does.
std::string emit_block(OnnxEmitter& e, Model& model, const std::string& name, const std::string& x) {
  if (name != "stem" && name != "head") return e.module(*model.find(name), x, name);
  auto run = [&](const ModulePtr& m, const std::string& in, const char* path) {
    return e.module(*m, in, path);
  };
  if (auto* r = dynamic_cast<CifarResNet*>(&model)) {
    if (name == "stem") return run(r->relu, run(r->bn1, run(r->conv1, x, "conv1"), "bn1"), "relu");
    return run(r->linear, pool_flatten(e, x), "linear");
  }
  if (auto* r = dynamic_cast<ResNet*>(&model)) {
    if (name == "stem")
      return run(r->maxpool, run(r->relu, run(r->bn1, run(r->conv1, x, "conv1"), "bn1"), "relu"), "maxpool");
    const std::string pooled = run(r->avgpool, x, "avgpool");
    return run(r->fc, e.node("Flatten", {pooled}, "head.flatten", {onnx_attr("axis", 1)}), "fc");
  }
  auto& m = dynamic_cast<MobileNetV2&>(model);
  if (name == "stem") return e.module(*model.find("features.0"), x, "features.0");
  return run(m.classifier, pool_flatten(e, x), "classifier");
}

OnnxModel empty_model(const std::string& model_name, const OnnxExportOptions& o, bool opset21) {
  OnnxModel om;
  om.opset = opset21 ? 21 : 13;
  om.ir_version = opset21 ? 10 : 7;
  om.graph.name = model_name;
  om.graph.inputs.push_back({"input", OnnxType::Float, {{0, "N"}, {o.channels, ""}, {o.height, ""}, {o.width, ""}}});
  om.graph.outputs.push_back({"logits", OnnxType::Float, {{0, "N"}, {o.num_classes, ""}}});
  om.metadata.push_back({"nwq_model", model_name});
  return om;
}

}  // namespace

OnnxModel quantized_to_onnx(QuantModel& qm, const std::string& model_name, const OnnxExportOptions& o) {
  auto model = std::dynamic_pointer_cast<Model>(qm.find("net"));
  NWQ_CHECK(model, "onnx export: the quantized model holds no Model");
  check_supported(*model);
  std::map<std::string, const ActQuantizer*> block_out;
  for (const auto& a : qm.acts()) {
    const size_t n = a.name.size();
    if (n > 4 && a.name.compare(n - 4, 4, ":out") == 0) block_out[a.name.substr(0, n - 4)] = a.quantizer.get();
  }
  bool any_4bit = false;
  for (const auto& l : qm.layers()) any_4bit = any_4bit || l.layer->bits() <= 4;
  const bool uint4 = o.uint4_weights && any_4bit;
  OnnxModel om = empty_model(model_name, o, uint4);
  om.metadata.push_back({"nwq_format", "qdq"});
  OnnxEmitter e(om.graph, uint4);
  std::string x = "input";
  for (const Block& b : model->blocks()) {
    e.new_block();
    x = emit_block(e, *model, b.name, x);
    auto it = block_out.find(b.name);
    if (it != block_out.end()) x = e.act_quantizer(*it->second, x, b.name + ":out");
  }
  e.rename_last_output(x, "logits");
  return om;
}

OnnxModel float_to_onnx(Model& model, const std::string& model_name, const OnnxExportOptions& o) {
  check_supported(model);
  OnnxModel om = empty_model(model_name, o, false);
  om.metadata.push_back({"nwq_format", "float"});
  OnnxEmitter e(om.graph, false);
  std::string x = "input";
  for (const Block& b : model.blocks()) x = emit_block(e, model, b.name, x);
  e.rename_last_output(x, "logits");
  return om;
}

void write_onnx(const OnnxModel& model, const std::string& path) {
  const std::vector<uint8_t> bytes = encode_model(model);
  write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace nwq
