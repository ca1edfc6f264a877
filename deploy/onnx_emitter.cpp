// The module-by-module ONNX emission of deploy/onnx_emitter.h. Each case mirrors the forward of
// the module it handles (models/*.cpp, quant/*.cpp); tests/onnx/ checks the result against nwq.
#include "deploy/onnx_emitter.h"

#include <cmath>
#include <cstdint>
#include <limits>

#include "core/error.h"
#include "models/layers.h"
#include "models/mobilenet_v2.h"
#include "models/resnet.h"
#include "models/resnet_cifar.h"
#include "quant/quant_layer.h"

namespace nwq {

namespace {

std::vector<float> floats_of(const Tensor& t) {
  return t.detach().to(Device::cpu()).contiguous().to_vector<float>();
}

std::vector<int64_t> dims_of(const Tensor& t) {
  return std::vector<int64_t>(t.sizes().begin(), t.sizes().end());
}

// Integer-valued floats (codes, zero points) as bytes; throws unless each is in [0, qmax].
std::vector<uint8_t> codes_of(const Tensor& t, int64_t qmax, const std::string& label) {
  std::vector<float> v = floats_of(t);
  std::vector<uint8_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    NWQ_CHECK(v[i] >= 0 && v[i] <= float(qmax) && std::nearbyint(v[i]) == v[i], "onnx export: ",
              label, " element ", i, " is ", v[i], ", not an integer in [0, ", qmax, "]");
    out[i] = uint8_t(v[i]);
  }
  return out;
}

}  // namespace

std::string OnnxEmitter::unique(const std::string& hint) {
  std::string base = hint.empty() ? "v" : hint, name = base;
  for (int i = 1; names_.count(name); ++i) name = str(base, "_", i);
  names_.insert(name);
  return name;
}

std::string OnnxEmitter::node(const std::string& op, const std::vector<std::string>& inputs,
                              const std::string& hint, const std::vector<OnnxAttribute>& attributes) {
  OnnxNode n;
  n.op_type = op;
  n.inputs = inputs;
  n.outputs = {unique(hint)};
  n.name = n.outputs[0];
  n.attributes = attributes;
  graph_.nodes.push_back(n);
  return n.outputs[0];
}

std::string OnnxEmitter::initializer(OnnxTensor t) {
  t.name = unique(t.name);
  graph_.initializers.push_back(t);
  return graph_.initializers.back().name;
}

std::string OnnxEmitter::float_constant(float value, const std::string& hint) {
  const std::string key = str(hint, "=", value);
  auto it = constants_.find(key);
  if (it != constants_.end()) return it->second;
  return constants_[key] = initializer(onnx_float_tensor(hint, {}, {value}));
}

void OnnxEmitter::rename_last_output(const std::string& from, const std::string& to) {
  NWQ_CHECK(!graph_.nodes.empty() && graph_.nodes.back().outputs[0] == from,
            "onnx export: the graph's output '", from, "' is not made by its last node");
  graph_.nodes.back().outputs[0] = to;
  names_.insert(to);
}

std::string OnnxEmitter::conv_or_gemm(const Module& layer, const std::string& x,
                                      const std::string& w, const std::string& b,
                                      const std::string& path) {
  std::vector<std::string> inputs = {x, w};
  if (!b.empty()) inputs.push_back(b);
  if (auto* conv = dynamic_cast<const Conv2d*>(&layer)) {
    const Conv2dParams& p = conv->params();
    const Size2 k = conv->kernel_size();
    return node("Conv", inputs, path,
                {onnx_attr("kernel_shape", std::vector<int64_t>{k.h, k.w}),
                 onnx_attr("strides", std::vector<int64_t>{p.stride_h, p.stride_w}),
                 onnx_attr("pads", std::vector<int64_t>{p.pad_h, p.pad_w, p.pad_h, p.pad_w}),
                 onnx_attr("dilations", std::vector<int64_t>{p.dilation_h, p.dilation_w}),
                 onnx_attr("group", p.groups)});
  }
  NWQ_CHECK(dynamic_cast<const Linear*>(&layer), "onnx export: ", path, " (", layer.type_name(),
            ") is neither Conv2d nor Linear");
  return node("Gemm", inputs, path, {onnx_attr("transB", 1)});  // y = x W^T + b
}

// Weights as integer codes with a per-output-channel DequantizeLinear (axis 0), then the layer.
std::string OnnxEmitter::quant_layer(const Module& m, const std::string& x, const std::string& path) {
  const auto& ql = static_cast<const QuantLayer&>(m);
  NWQ_CHECK(ql.mode() == QuantLayer::Mode::Nearest || ql.mode() == QuantLayer::Mode::Hard,
            "onnx export: layer ", path, " has no hardened codes");
  const OnnxType type = uint4_ && ql.bits() <= 4 ? OnnxType::Uint4 : OnnxType::Uint8;
  const int64_t out = ql.codes.size(0);
  const std::string codes = initializer(onnx_code_tensor(
      path + ".weight_codes", dims_of(ql.codes), codes_of(ql.codes, ql.qmax(), path + " codes"), type));
  NWQ_CHECK(ql.scale.numel() == out && ql.zero_point.numel() == out, "onnx export: ", path,
            " needs one scale and zero point per output channel");
  const std::string scale = initializer(onnx_float_tensor(path + ".weight_scale", {out}, floats_of(ql.scale)));
  const std::string zero = initializer(onnx_code_tensor(
      path + ".weight_zero_point", {out}, codes_of(ql.zero_point, ql.qmax(), path + " zero point"), type));
  const std::string w = node("DequantizeLinear", {codes, scale, zero}, path + ".weight", {onnx_attr("axis", 0)});
  const std::string b = initializer(onnx_float_tensor(path + ".bias", {out}, floats_of(ql.bias)));
  return conv_or_gemm(*ql.child("layer"), x, w, b, path);
}

std::string OnnxEmitter::act_quantizer(const ActQuantizer& q, const std::string& x,
                                       const std::string& path) {
  NWQ_CHECK(q.state == ActQuantizer::State::On, "onnx export: activation quantizer ", path, " is off");
  NWQ_CHECK(q.bits() >= 2 && q.bits() <= 8, "onnx export: ", path, " has ", q.bits(), " bits");
  const float s = floats_of(q.scale).at(0);
  const uint8_t z = codes_of(q.zero_point, q.qmax(), path + " zero point").at(0);
  const std::string scale = initializer(onnx_float_tensor(path + ".scale", {}, {s}));
  const std::string zero = initializer(onnx_code_tensor(path + ".zero_point", {}, {z}, OnnxType::Uint8));
  const std::string qx = node("QuantizeLinear", {x, scale, zero}, path + ".q");
  const std::string y = node("DequantizeLinear", {qx, scale, zero}, path + ".dq");
  if (q.bits() == 8) return y;
  // The b-bit clamp [0, 2^b - 1] inside uint8's [0, 255], in float after dequantizing: the same
  // products (q - z) * s that DequantizeLinear computes at q = 0 and q = 2^b - 1, so exact.
  const float lo = float(0 - int(z)) * s, hi = float(int(q.qmax()) - int(z)) * s;
  return node("Clip", {y, float_constant(lo, path + ".min"), float_constant(hi, path + ".max")},
              path + ".clip");
}

// Residual blocks: the composition each forward writes out.
std::string OnnxEmitter::block(const Module& m, const std::string& x, const std::string& p) {
  auto sub = [&](const ModulePtr& child, const std::string& in, const char* name) {
    return module(*child, in, p + "." + name);
  };
  if (auto* b = dynamic_cast<const CifarBasicBlock*>(&m)) {
    std::string y = sub(b->relu1, sub(b->bn1, sub(b->conv1, x, "conv1"), "bn1"), "relu1");
    y = sub(b->bn2, sub(b->conv2, y, "conv2"), "bn2");
    return sub(b->relu2, node("Add", {y, sub(b->shortcut, x, "shortcut")}, p + ".add"), "relu2");
  }
  if (auto* b = dynamic_cast<const BasicBlock*>(&m)) {
    std::string y = sub(b->relu, sub(b->bn1, sub(b->conv1, x, "conv1"), "bn1"), "relu");
    y = sub(b->bn2, sub(b->conv2, y, "conv2"), "bn2");
    const std::string identity = b->downsample ? sub(b->downsample, x, "downsample") : x;
    return sub(b->relu, node("Add", {y, identity}, p + ".add"), "relu");
  }
  if (auto* b = dynamic_cast<const Bottleneck*>(&m)) {
    std::string y = sub(b->relu, sub(b->bn1, sub(b->conv1, x, "conv1"), "bn1"), "relu");
    y = sub(b->relu, sub(b->bn2, sub(b->conv2, y, "conv2"), "bn2"), "relu");
    y = sub(b->bn3, sub(b->conv3, y, "conv3"), "bn3");
    const std::string identity = b->downsample ? sub(b->downsample, x, "downsample") : x;
    return sub(b->relu, node("Add", {y, identity}, p + ".add"), "relu");
  }
  auto& r = dynamic_cast<const InvertedResidual&>(m);
  const std::string y = sub(r.conv, x, "conv");
  return r.use_res_connect() ? node("Add", {x, y}, p + ".add") : y;
}

std::string OnnxEmitter::module(const Module& m, const std::string& x, const std::string& path) {
  if (dynamic_cast<const QuantLayer*>(&m)) return quant_layer(m, x, path);
  if (dynamic_cast<const Conv2d*>(&m) || dynamic_cast<const Linear*>(&m)) {
    const auto* conv = dynamic_cast<const Conv2d*>(&m);
    const Tensor& w = conv ? conv->weight : static_cast<const Linear&>(m).weight;
    const Tensor& b = conv ? conv->bias : static_cast<const Linear&>(m).bias;
    const std::string wn = initializer(onnx_float_tensor(path + ".weight", dims_of(w), floats_of(w)));
    const std::string bn = b.defined() ? initializer(onnx_float_tensor(path + ".bias", dims_of(b), floats_of(b))) : "";
    return conv_or_gemm(m, x, wn, bn, path);
  }
  if (auto* bn = dynamic_cast<const BatchNorm2d*>(&m)) {
    const int64_t c = bn->num_features();
    std::vector<std::string> in = {x};
    for (auto [t, name] : {std::pair<const Tensor*, const char*>{&bn->weight, ".weight"},
                           {&bn->bias, ".bias"}, {&bn->running_mean, ".running_mean"},
                           {&bn->running_var, ".running_var"}})
      in.push_back(initializer(onnx_float_tensor(path + name, {c}, floats_of(*t))));
    return node("BatchNormalization", in, path, {onnx_attr_float("epsilon", float(bn->eps()))});
  }
  if (dynamic_cast<const ReLU*>(&m)) return node("Relu", {x}, path);
  if (dynamic_cast<const ReLU6*>(&m))
    return node("Clip", {x, float_constant(0, "relu6.min"), float_constant(6, "relu6.max")}, path);
  if (auto* qa = dynamic_cast<const QuantAct*>(&m)) {
    const size_t use = uses_[&m]++ % qa->uses();
    const std::string y = module(*qa->child("act"), x, path);
    const ActQuantizerPtr q = qa->quantizer(use);
    return q ? act_quantizer(*q, y, str(path, "#", use)) : y;
  }
  if (auto* q = dynamic_cast<const ActQuantizer*>(&m)) return act_quantizer(*q, x, path);
  if (dynamic_cast<const Identity*>(&m) || dynamic_cast<const Dropout*>(&m)) return x;
  if (auto* seq = dynamic_cast<const Sequential*>(&m)) {
    std::string y = x;
    for (size_t i = 0; i < seq->size(); ++i) y = module(*(*seq)[i], y, str(path, ".", i));
    return y;
  }
  if (auto* s = dynamic_cast<const ShortcutA*>(&m)) {
    std::string y = x;
    if (s->stride() != 1) {
      const int64_t big = std::numeric_limits<int64_t>::max(), k = s->stride();
      y = node("Slice", {y, initializer(onnx_int64_tensor(path + ".starts", {2}, {0, 0})),
                         initializer(onnx_int64_tensor(path + ".ends", {2}, {big, big})),
                         initializer(onnx_int64_tensor(path + ".axes", {2}, {2, 3})),
                         initializer(onnx_int64_tensor(path + ".steps", {2}, {k, k}))},
               path + ".subsample");
    }
    if (s->pad() == 0) return y;
    const int64_t c = s->pad();  // [N, C, H, W] begins then ends: channels only
    return node("Pad", {y, initializer(onnx_int64_tensor(path + ".pads", {8}, {0, c, 0, 0, 0, c, 0, 0}))},
                path + ".pad");
  }
  if (auto* mp = dynamic_cast<const MaxPool2d*>(&m)) {
    const Pool2dParams& p = mp->params();
    return node("MaxPool", {x}, path,
                {onnx_attr("kernel_shape", std::vector<int64_t>{p.kernel_h, p.kernel_w}),
                 onnx_attr("strides", std::vector<int64_t>{p.stride_h, p.stride_w}),
                 onnx_attr("pads", std::vector<int64_t>{p.pad_h, p.pad_w, p.pad_h, p.pad_w}),
                 onnx_attr("ceil_mode", p.ceil_mode ? 1 : 0)});
  }
  if (auto* ap = dynamic_cast<const AdaptiveAvgPool2d*>(&m)) {
    NWQ_CHECK(ap->output_size() == Size2(1), "onnx export: ", path,
              ": only AdaptiveAvgPool2d(1) (a global average pool) is supported");
    return node("GlobalAveragePool", {x}, path);
  }
  if (auto* f = dynamic_cast<const Flatten*>(&m))
    return node("Flatten", {x}, path, {onnx_attr("axis", f->start_dim())});
  if (dynamic_cast<const CifarBasicBlock*>(&m) || dynamic_cast<const BasicBlock*>(&m) ||
      dynamic_cast<const Bottleneck*>(&m) || dynamic_cast<const InvertedResidual*>(&m))
    return block(m, x, path);
  throw Error(str("onnx export: no ONNX form for module '", path, "' of type ", m.type_name(),
                  " (supported: the CIFAR ResNets, ResNet-18/34/50 and MobileNetV2)"));
}

}  // namespace nwq
