// Preparing a model for quantization: the tracing forward, BN folding, module swaps and the
// activation-quantizer placement; then the quantized forward, block by block.
#include "quant/quant_model.h"

#include <map>

#include "autograd/grad_mode.h"
#include "core/error.h"
#include "models/layers.h"

namespace nwq {

namespace {

enum class Kind { Layer, Norm, Act };

struct Call {
  std::string path;
  Kind kind;
  size_t block;
  Tensor in, out;  // kept alive so that pointer identity means "the same tensor"
};

struct Trace {
  std::vector<Call> calls;
  std::vector<Tensor> block_out;  // each block's output
  size_t block = 0;               // the block running now
};

// Stands in for a module during the trace and logs its calls.
class Recorder : public Module {
 public:
  Recorder(ModulePtr inner, std::string path, Kind kind, Trace* trace)
      : inner_(std::move(inner)), path_(std::move(path)), kind_(kind), trace_(trace) {}
  Tensor forward(const Tensor& x) override {
    Tensor y = inner_->forward(x);
    trace_->calls.push_back({path_, kind_, trace_->block, x, y});
    return y;
  }

 private:
  ModulePtr inner_;
  std::string path_;
  Kind kind_;
  Trace* trace_;
};

bool kind_of(Module* m, Kind& kind) {
  if (dynamic_cast<Conv2d*>(m) || dynamic_cast<Linear*>(m)) return kind = Kind::Layer, true;
  if (dynamic_cast<BatchNorm2d*>(m)) return kind = Kind::Norm, true;
  if (dynamic_cast<ReLU*>(m) || dynamic_cast<ReLU6*>(m)) return kind = Kind::Act, true;
  return false;
}

// Runs one forward of sample with every layer, BN and activation module of model wrapped by a
// Recorder, then puts the originals back. Returns them by path in `originals`.
Trace trace_forward(Model& model, const std::vector<Block>& blocks, const Tensor& sample,
                    std::map<std::string, ModulePtr>& originals) {
  Trace trace;
  for (auto& [path, module] : model.named_modules()) {
    Kind kind;
    if (!path.empty() && kind_of(module, kind)) originals[path] = model.find(path);
  }
  for (auto& [path, module] : originals) {
    Kind kind;
    kind_of(module.get(), kind);
    model.replace_child(path, std::make_shared<Recorder>(module, path, kind, &trace));
  }
  {
    NoGradGuard no_grad;
    Tensor x = sample;
    for (size_t b = 0; b < blocks.size(); ++b) {
      trace.block = b;
      x = blocks[b].forward(x);
      trace.block_out.push_back(x);
    }
  }
  for (auto& [path, module] : originals) model.replace_child(path, module);
  return trace;
}

// Layer path -> the path of the BN fed by its output. Each layer must run once per forward and
// each BN must be fed by a layer's output (else folding is impossible: an error names it).
std::map<std::string, std::string> fold_pairs(const Trace& trace) {
  std::map<std::string, int> layer_calls;
  std::map<const TensorImpl*, std::string> layer_of_output;
  for (const Call& c : trace.calls) {
    if (c.kind != Kind::Layer) continue;
    NWQ_CHECK(++layer_calls[c.path] == 1, "quantize: layer '", c.path,
              "' runs more than once per forward; each layer is quantized once");
    layer_of_output[c.out.impl_ptr().get()] = c.path;
  }
  std::map<std::string, std::string> bn_of_layer;
  for (const Call& c : trace.calls) {
    if (c.kind != Kind::Norm) continue;
    auto it = layer_of_output.find(c.in.impl_ptr().get());
    NWQ_CHECK(it != layer_of_output.end(), "quantize: cannot fold BatchNorm '", c.path,
              "': its input is not the output of a convolution");
    NWQ_CHECK(!bn_of_layer.count(it->second), "quantize: '", it->second, "' feeds two BatchNorms");
    bn_of_layer[it->second] = c.path;
  }
  return bn_of_layer;
}

}  // namespace

QuantModel::QuantModel(ModelPtr model, const Tensor& sample, const QuantConfig& config)
    : model_(std::move(model)), config_(config) {
  validate(config_);
  model_->eval();
  net_ = model_;
  outputs_ = std::make_shared<Sequential>();
  build(sample);
  register_module("net", &net_);
  register_module("block_outputs", &outputs_);
  to(sample.device());
  eval();
}

void QuantModel::build(const Tensor& sample) {
  blocks_ = model_->blocks();
  std::map<std::string, ModulePtr> by_path;
  const Trace trace = trace_forward(*model_, blocks_, sample, by_path);
  std::map<std::string, std::string> bn_of_layer = fold_pairs(trace);

  // In execution order: layers get QuantLayers, activation uses and block outputs quantizers.
  std::map<std::string, std::vector<ActQuantizerPtr>> act_uses;
  size_t next_block = 0;
  for (const Call& c : trace.calls) {
    for (; next_block < c.block; ++next_block) add_block_output(next_block);
    if (c.kind == Kind::Layer) {
      std::string bn = bn_of_layer.count(c.path) ? bn_of_layer[c.path] : "";
      auto layer = std::make_shared<QuantLayer>(by_path[c.path], bn.empty() ? nullptr : by_path[bn]);
      layers_.push_back({c.path, bn, c.block, layer});
    } else if (c.kind == Kind::Act) {
      std::vector<ActQuantizerPtr>& uses = act_uses[c.path];
      // A use whose output is the block output is covered by the block-output quantizer.
      uses.push_back(c.out.same(trace.block_out[c.block])
                         ? nullptr
                         : new_act_quantizer(str(c.path, "#", uses.size()), c.block));
    }
  }
  for (; next_block < blocks_.size(); ++next_block) add_block_output(next_block);
  NWQ_CHECK(!layers_.empty(), "quantize: the model has no conv or linear layer");
  for (const auto& e : layers_) {
    model_->replace_child(e.name, e.layer);
    if (!e.bn.empty()) model_->replace_child(e.bn, std::make_shared<Identity>());
  }
  for (auto& [path, uses] : act_uses) {
    quant_acts_.push_back(std::make_shared<QuantAct>(by_path[path], uses));
    model_->replace_child(path, quant_acts_.back());
  }
  apply_bit_rules();
}

ActQuantizerPtr QuantModel::new_act_quantizer(const std::string& name, size_t block) {
  auto q = std::make_shared<ActQuantizer>(config_.abits, config_.lp, config_.observer,
                                          config_.act_grad_scale);
  q->label = name;
  acts_.push_back({name, block, q});
  return q;
}

// Every block but the last (the logits) gets an output quantizer.
void QuantModel::add_block_output(size_t b) {
  ActQuantizerPtr q = b + 1 < blocks_.size() ? new_act_quantizer(blocks_[b].name + ":out", b) : nullptr;
  block_out_.push_back(q);
  static_cast<Sequential&>(*outputs_).push_back(q ? ModulePtr(q) : std::make_shared<Identity>());
}

// wbits everywhere, then the 8-bit switches: first and last layer, last activation quantizer
// in execution order (the last layer's input).
void QuantModel::apply_bit_rules() {
  for (auto& e : layers_) e.layer->set_bits(config_.wbits);
  if (config_.first_layer_8bit) layers_.front().layer->set_bits(8);
  if (config_.last_layer_8bit) layers_.back().layer->set_bits(8);
  if (config_.last_act_8bit && !acts_.empty()) acts_.back().quantizer->set_bits(8);
}

Tensor QuantModel::run_block(size_t b, const Tensor& x) {
  for (auto& a : quant_acts_) a->reset_calls();
  Tensor y = blocks_[b].forward(x);
  return block_out_[b] ? block_out_[b]->forward(y) : y;
}

Tensor QuantModel::forward(const Tensor& x) {
  Tensor y = x;
  for (size_t b = 0; b < blocks_.size(); ++b) y = run_block(b, y);
  return y;
}

void QuantModel::init_weight_grids() {
  for (auto& e : layers_) e.layer->init_grid(e.layer->bits(), config_.lp, config_.observer);
}

void QuantModel::set_acts(ActQuantizer::State state) {
  for (auto& a : acts_) a.quantizer->state = state;
}

void QuantModel::set_layer_modes(QuantLayer::Mode mode) {
  for (auto& e : layers_) e.layer->set_mode(mode);
}

FloatModeGuard::FloatModeGuard(QuantModel& model) : model_(model) {
  for (const auto& e : model.layers()) layer_modes_.push_back(e.layer->mode());
  for (const auto& a : model.acts()) act_states_.push_back(a.quantizer->state);
  model.set_layer_modes(QuantLayer::Mode::Float);
  model.set_acts(ActQuantizer::State::Off);
}

FloatModeGuard::~FloatModeGuard() {
  for (size_t i = 0; i < layer_modes_.size(); ++i) model_.layers()[i].layer->set_mode(layer_modes_[i]);
  for (size_t i = 0; i < act_states_.size(); ++i) model_.acts()[i].quantizer->state = act_states_[i];
}

}  // namespace nwq
