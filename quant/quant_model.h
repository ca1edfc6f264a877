// QuantModel: a model prepared for quantization without editing its files. One traced forward
// finds each conv/linear, the BN it feeds and every use of each activation module; then BN is
// folded, layers are swapped for QuantLayers, activations for QuantActs, and each block's output
// gets an ActQuantizer (docs/DESIGN.md section 7, placement). Its forward is the quantized network.
#pragma once
#include <string>
#include <vector>

#include "models/module.h"
#include "quant/act_quantizer.h"
#include "quant/config.h"
#include "quant/quant_layer.h"

namespace nwq {

class QuantModel : public Module {
 public:
  // model: FP weights loaded (it is switched to eval mode and modified in place: keep no other
  // users). sample: an input batch for the trace (e.g. two calibration images), on the model's
  // device. config: bits and the 8-bit placement switches. Everything starts in Float mode.
  QuantModel(ModelPtr model, const Tensor& sample, const QuantConfig& config);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "QuantModel"; }

  // Block b with its output quantizer; activation use counters restart.
  Tensor run_block(size_t b, const Tensor& x);
  size_t num_blocks() const { return blocks_.size(); }
  const std::string& block_name(size_t b) const { return blocks_[b].name; }
  const Model& model() const { return *model_; }

  // Weight grids by the Lp search and nearest codes for every layer (modes become Nearest).
  void init_weight_grids();
  // Every activation quantizer On (weights as they are), or all Off and layers Float.
  void set_acts(ActQuantizer::State state);
  void set_layer_modes(QuantLayer::Mode mode);

  struct LayerEntry {
    std::string name;  // the conv/linear path ("layer1.0.conv1")
    std::string bn;    // the folded BN's path, or ""
    size_t block;
    QuantLayerPtr layer;
  };
  struct ActEntry {
    std::string name;  // "layer1.0.relu#0" (use 0 of that module) or "layer1.0:out"
    size_t block;
    ActQuantizerPtr quantizer;
  };
  const std::vector<LayerEntry>& layers() const { return layers_; }  // execution order
  const std::vector<ActEntry>& acts() const { return acts_; }        // execution order
  const QuantConfig& config() const { return config_; }

 private:
  void build(const Tensor& sample);
  ActQuantizerPtr new_act_quantizer(const std::string& name, size_t block);
  void add_block_output(size_t block);
  void apply_bit_rules();
  ModelPtr model_;
  ModulePtr net_, outputs_;  // the model and a holder of the block-output quantizers
  std::vector<Block> blocks_;
  std::vector<ActQuantizerPtr> block_out_;  // null for the last block (the logits)
  std::vector<std::shared_ptr<QuantAct>> quant_acts_;
  std::vector<LayerEntry> layers_;
  std::vector<ActEntry> acts_;
  QuantConfig config_;
};

// While alive: every quantizer Off and every layer Float (the FP network); then the previous
// states come back.
class FloatModeGuard {
 public:
  explicit FloatModeGuard(QuantModel& model);
  ~FloatModeGuard();
  FloatModeGuard(const FloatModeGuard&) = delete;
  FloatModeGuard& operator=(const FloatModeGuard&) = delete;

 private:
  QuantModel& model_;
  std::vector<QuantLayer::Mode> layer_modes_;
  std::vector<ActQuantizer::State> act_states_;
};

}  // namespace nwq
