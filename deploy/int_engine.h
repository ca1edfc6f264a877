// The integer inference engine (`nwq eval --engine int`): runs a quantized model's QDQ graph
// (deploy/onnx_export.h) with uint8 activation codes, packed weight codes and int32 accumulators.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "deploy/int_kernels.h"
#include "deploy/onnx_export.h"
#include "models/module.h"
#include "quant/quant_model.h"

namespace nwq {

// What the engine made of the graph, for reports and tests.
struct IntEngineStats {
  int int_layers = 0;        // convolutions / linears on codes (int32 accumulation)
  int requantized = 0;       // ... of them ending in the integer requantization to codes
  int float_layers = 0;      // layers whose input is not quantized (the image into the first conv)
  int float_steps = 0;       // adds, pools, shortcuts, logits: the documented float steps
  std::vector<std::string> float_layer_names;  // the layers of float_layers
  int64_t packed_weight_bytes = 0;  // the integer layers' weights as the engine holds them
};

// Every convolution or linear layer whose input is an activation quantizer's codes runs as
// sum_k (x_code - z_x)(w_code - z_w) in int32 (deploy/int_conv.h). When its output goes, through
// an optional ReLU / ReLU6, straight into the next activation quantizer, it is requantized
// integer-only (acc * m0 + bias) >> shift + z (round half up) to that quantizer's codes; otherwise
// (residual adds, the logits) the accumulator leaves as acc * s_x * s_w + b in float, and the
// float steps (add, pooling, option-A shortcut, the first layer on the unquantized image) run the
// same ops as nwq's fake-quant forward. Where a layer's float output only feeds Add [-> Relu] ->
// quantizer, and where ReLU or MaxPool feed a quantizer, those float ops run fused, element by
// element, giving the same codes (deploy/int_layer_steps.h, deploy/int_code_steps.h).
// docs/DEPLOY.md walks one layer through it. forward() is not reentrant (it keeps a profile).
class IntEngine : public Module {
 public:
  // qm: a loaded quantized model (load_quantized), on the CPU; input geometry as for the ONNX
  // export. Throws naming the node it cannot run.
  IntEngine(QuantModel& qm, const std::string& model_name, const OnnxExportOptions& input,
            IntIsa isa = best_int_isa());
  Tensor forward(const Tensor& x) override;  // x [N, C, H, W] F32 on the CPU -> logits
  std::string type_name() const override { return "IntEngine"; }
  const IntEngineStats& stats() const { return stats_; }
  IntIsa isa() const { return isa_; }

  // Activation codes of one quantized value, [N, C, H, W] or [N, K].
  struct Codes {
    std::vector<uint8_t> data;
    Shape shape;
    float scale = 1;
    int zero_point = 0;
    int qmax = 255;
  };
  struct Value {
    Tensor f;                      // a float value, or
    std::shared_ptr<Codes> codes;  // a quantized one
  };
  // The values of one forward, by the slot the compiler gave each graph value.
  using Env = std::vector<Value>;

  // Seconds spent in each kind of step ("int conv -> codes", "float Add", ...) over every forward
  // since the engine was built, in first-run order: where the time goes.
  std::vector<std::pair<std::string, double>> profile() const;

 private:
  struct Compiler;
  struct Step {
    std::string label;
    std::function<void(Env&)> run;
    std::vector<int> release;  // slots read for the last time by this step
  };
  std::vector<Step> steps_;
  std::vector<double> step_seconds_;
  int input_ = -1, output_ = -1, slots_ = 0;
  IntEngineStats stats_;
  IntIsa isa_;
};

// Dequantizes codes as fake-quant writes them: (q - z) * s in float.
Tensor dequantize_act(const IntEngine::Codes& c);

}  // namespace nwq
