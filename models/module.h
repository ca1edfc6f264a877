// Module: the tree that models are built from. Parameters, buffers and child modules are
// registered by name, in order, as pointers to the owning layer's own members, so that
// state_dict names match torchvision exactly and to()/replace_child() write through to them.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/safetensors.h"
#include "core/tensor.h"
#include "core/tensor_io.h"

namespace nwq {

class Module;
using ModulePtr = std::shared_ptr<Module>;

// Conventions:
// - A layer registers the members it owns in its constructor: register_parameter("weight",
//   &weight). The slots must stay where they are for the module's lifetime (modules are neither
//   copyable nor movable, so members of `this` qualify; containers use std::deque).
// - An undefined tensor in a parameter/buffer slot (a conv without bias) is skipped by every
//   listing, state_dict and load_state_dict; defining it later makes it appear (set its
//   requires_grad yourself then: registration only marks tensors defined at that time).
// - Listings are in torch's order: a module's own parameters, then its own buffers, then each
//   child (recursively) in registration order. Names are dotted: "layer2.0.conv1.weight".
// - Children are always called through their ModulePtr member at call time, never through a
//   cached typed pointer, so replace_child() is seen by forward().
class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The computation. The default throws: containers without a forward (e.g. ModuleDict-like
  // holders) name themselves.
  virtual Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }
  // "Conv2d", "BatchNorm2d", ... (used in summaries and error messages).
  virtual std::string type_name() const { return "Module"; }
  // Hyper-parameters for summary(), e.g. "16, 32, kernel=3x3, stride=2x2".
  virtual std::string extra_repr() const { return ""; }

  // ---- registration (in constructors) ----
  // Parameters become leaves with requires_grad = true (when defined).
  void register_parameter(const std::string& name, Tensor* slot);
  void register_buffer(const std::string& name, Tensor* slot);
  void register_module(const std::string& name, ModulePtr* slot);

  // ---- listings (tensors alias the module's own; nothing is copied) ----
  NamedTensors named_parameters() const;
  std::vector<Tensor> parameters() const;
  NamedTensors named_buffers() const;
  NamedTensors state_dict() const;  // parameters and buffers, torch's order and names
  int64_t num_parameters() const;   // total elements of all parameters

  // Copies values into the existing tensors (their devices are kept). Everything is validated
  // before anything is written: one Error lists all missing keys, unexpected keys (strict only),
  // shape and dtype mismatches, naming `label` (usually the file path). F32 tensors accept F32 or
  // F64 (converted), integer buffers their own dtype. NaN/Inf values are refused by name.
  void load_state_dict(const NamedTensors& state, bool strict = true,
                       const std::string& label = "state_dict");
  // state_dict() to / from a safetensors file; load returns the file's metadata.
  void save(const std::string& path, const SafetensorsMetadata& metadata = {}) const;
  SafetensorsMetadata load(const std::string& path, bool strict = true);

  // ---- the tree ----
  // Every module, depth first, "" for this one. Non-owning pointers, valid while the tree is.
  std::vector<std::pair<std::string, Module*>> named_modules();
  ModulePtr child(const std::string& name) const;   // direct child; throws when absent
  ModulePtr find(const std::string& path) const;    // "layer1.0.conv1"; throws naming the path
  bool contains(const std::string& path) const;     // whether find(path) would succeed
  // Swaps the module at a dotted path (the member slot of its parent is overwritten). The new
  // module takes the parent's train/eval mode; its device is the caller's business.
  void replace_child(const std::string& path, ModulePtr module);

  // ---- modes, devices, gradients ----
  void train(bool on = true);  // recursive
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Moves parameters (keeping requires_grad; they are leaves on the new device, with their
  // gradients moved too) and buffers, recursively. Tensors already there are left untouched.
  // Tensor handles taken before a real move (e.g. by an optimizer) go stale.
  void to(Device device);
  void zero_grad();

  // The tree with types and hyper-parameters, one module per line (for `nwq info`).
  std::string summary() const;

 private:
  struct TensorSlot {
    std::string name;
    Tensor* slot;
  };
  struct ModuleSlot {
    std::string name;
    ModulePtr* slot;
  };
  void check_new_name(const std::string& name, const char* what) const;
  void collect(const std::string& prefix, bool params, bool buffers, NamedTensors& out) const;
  void collect_modules(const std::string& prefix,
                       std::vector<std::pair<std::string, Module*>>& out);
  void summary_lines(const std::string& name, int depth, std::string& out) const;
  ModulePtr* find_slot(const std::string& path, bool must_exist) const;

  std::vector<TensorSlot> params_;
  std::vector<TensorSlot> buffers_;
  std::vector<ModuleSlot> children_;
  bool training_ = true;
};

// A reconstruction unit of a model: the models' forward is the composition of its blocks.
struct Block {
  std::string name;  // "stem", "layer1.0", ..., "head"
  std::function<Tensor(const Tensor&)> forward;
};

// A complete network. Its forward literally runs its blocks in order, so quantization can work
// block by block without knowing the model type. Block functions capture the model (they are
// valid while it lives) and call its ModulePtr members at call time, so swaps are seen.
class Model : public Module {
 public:
  virtual std::vector<Block> blocks() = 0;
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Model"; }
  // Maps the names of foreign checkpoints (a DataParallel "module." prefix, timm names, files
  // without BN counters) onto this model's; the default strips wrapper prefixes and adds
  // missing num_batches_tracked counters.
  virtual NamedTensors normalize_checkpoint(const NamedTensors& state) const;
  // Loads a safetensors checkpoint (strict) after normalize_checkpoint; returns its metadata.
  SafetensorsMetadata load_checkpoint(const std::string& path);
  void load_checkpoint(const TensorFile& file);
};
using ModelPtr = std::shared_ptr<Model>;

}  // namespace nwq
