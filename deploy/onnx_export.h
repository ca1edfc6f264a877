// ONNX export of nwq models: a quantized model (QuantModel, e.g. from load_quantized) as a QDQ
// graph, or an FP model as a plain float graph; written atomically. See docs/DEPLOY.md.
#pragma once
#include <memory>
#include <string>

#include "deploy/onnx_writer.h"
#include "models/module.h"
#include "quant/quant_model.h"

namespace nwq {

struct OnnxExportOptions {
  int64_t channels = 3, height = 32, width = 32;  // the input [N, C, H, W]; N stays symbolic
  int64_t num_classes = 10;                        // the logits [N, classes]
  // Weights of 2..4 bits as UINT4 (opset 21, IR 10) when true; else every code is UINT8 and the
  // model uses opset 13 (IR 7), which older runtimes accept.
  bool uint4_weights = true;
};

// The quantized network exactly as QuantModel::forward runs it (every layer hardened, every
// activation quantizer on). Input "input", output "logits".
OnnxModel quantized_to_onnx(QuantModel& model, const std::string& model_name,
                            const OnnxExportOptions& options);
// The FP network in eval mode, BatchNorm kept as BatchNormalization nodes (not folded).
OnnxModel float_to_onnx(Model& model, const std::string& model_name, const OnnxExportOptions& options);

// Serializes and writes atomically (core/file_util.h): a failure leaves no partial file.
void write_onnx(const OnnxModel& model, const std::string& path);

}  // namespace nwq
