// Turns nwq modules into ONNX nodes by walking the Module tree the way each module's forward
// runs: layers, BN, activations, option-A shortcuts, residual blocks and quantizers (QDQ).
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "deploy/onnx_writer.h"
#include "models/module.h"
#include "quant/act_quantizer.h"

namespace nwq {

class OnnxEmitter {
 public:
  // uint4_weights: 2..4-bit weight codes as UINT4 (needs opset 21), else UINT8.
  OnnxEmitter(OnnxGraph& graph, bool uint4_weights) : graph_(graph), uint4_(uint4_weights) {}

  // Appends the nodes of `module` (found at `path`) applied to value x; returns the output value.
  // Throws naming the path and type of a module it cannot express.
  std::string module(const Module& module, const std::string& x, const std::string& path);
  // QuantizeLinear -> DequantizeLinear (-> Clip for fewer than 8 bits); see docs/DEPLOY.md.
  std::string act_quantizer(const ActQuantizer& q, const std::string& x, const std::string& path);
  // A node with one output named after `hint` (made unique); returns the output's name.
  std::string node(const std::string& op, const std::vector<std::string>& inputs,
                   const std::string& hint, const std::vector<OnnxAttribute>& attributes = {});
  // Adds an initializer under a unique name derived from t.name; returns that name.
  std::string initializer(OnnxTensor t);
  // Each block of a QuantModel restarts the QuantActs' use counters (as QuantModel::run_block).
  void new_block() { uses_.clear(); }
  // Renames the value `from` (produced by the last node) to `to`.
  void rename_last_output(const std::string& from, const std::string& to);

 private:
  std::string unique(const std::string& hint);
  std::string float_constant(float value, const std::string& hint);
  std::string conv_or_gemm(const Module& layer, const std::string& x, const std::string& w,
                           const std::string& b, const std::string& path);
  std::string quant_layer(const Module& m, const std::string& x, const std::string& path);
  std::string block(const Module& m, const std::string& x, const std::string& path);

  OnnxGraph& graph_;
  bool uint4_;
  std::set<std::string> names_;
  std::map<std::string, std::string> constants_;   // shared float scalars by value
  std::map<const Module*, size_t> uses_;           // QuantAct calls in the current block
};

}  // namespace nwq
