// Module registration, recursive listings, tree navigation (find / replace_child), modes and
// device moves. Loading and saving of state dicts is in models/module_state.cpp.
#include "models/module.h"

#include "core/torch_checkpoint.h"
#include "models/checkpoint_names.h"

namespace nwq {

namespace {

std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    parts.push_back(path.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

}  // namespace

Tensor Module::forward(const Tensor&) {
  throw Error(str(type_name(), ": forward is not implemented (a container: call its children)"));
}

// ---------------------------------------------------------------- registration

void Module::check_new_name(const std::string& name, const char* what) const {
  NWQ_CHECK(!name.empty() && name.find('.') == std::string::npos, type_name(), ": ", what,
            " name '", name, "' must be non-empty and contain no '.'");
  bool taken = false;
  for (const auto& s : params_) taken = taken || s.name == name;
  for (const auto& s : buffers_) taken = taken || s.name == name;
  for (const auto& s : children_) taken = taken || s.name == name;
  NWQ_CHECK(!taken, type_name(), ": name '", name, "' is already registered");
}

void Module::register_parameter(const std::string& name, Tensor* slot) {
  check_new_name(name, "parameter");
  NWQ_CHECK(slot != nullptr, type_name(), ": parameter '", name, "' has no slot");
  if (slot->defined()) slot->set_requires_grad(true);
  params_.push_back({name, slot});
}

void Module::register_buffer(const std::string& name, Tensor* slot) {
  check_new_name(name, "buffer");
  NWQ_CHECK(slot != nullptr, type_name(), ": buffer '", name, "' has no slot");
  buffers_.push_back({name, slot});
}

void Module::register_module(const std::string& name, ModulePtr* slot) {
  check_new_name(name, "module");
  NWQ_CHECK(slot != nullptr && *slot != nullptr, type_name(), ": module '", name, "' is null");
  children_.push_back({name, slot});
}

// ---------------------------------------------------------------- listings

void Module::collect(const std::string& prefix, bool params, bool buffers,
                     NamedTensors& out) const {
  if (params) {
    for (const auto& s : params_) {
      if (s.slot->defined()) out.emplace_back(join(prefix, s.name), *s.slot);
    }
  }
  if (buffers) {
    for (const auto& s : buffers_) {
      if (s.slot->defined()) out.emplace_back(join(prefix, s.name), *s.slot);
    }
  }
  for (const auto& c : children_) (*c.slot)->collect(join(prefix, c.name), params, buffers, out);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", true, false, out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", false, true, out);
  return out;
}

NamedTensors Module::state_dict() const {
  NamedTensors out;
  collect("", true, true, out);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (auto& [name, t] : named_parameters()) n += t.numel();
  return n;
}

// ---------------------------------------------------------------- the tree

void Module::collect_modules(const std::string& prefix,
                             std::vector<std::pair<std::string, Module*>>& out) {
  out.emplace_back(prefix, this);
  for (const auto& c : children_) (*c.slot)->collect_modules(join(prefix, c.name), out);
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out;
  collect_modules("", out);
  return out;
}

// Walks the dotted path; returns the parent's slot holding the module, or nullptr (or throws,
// naming the path and what exists there) when some part is absent.
ModulePtr* Module::find_slot(const std::string& path, bool must_exist) const {
  const Module* current = this;
  std::string walked;
  ModulePtr* slot = nullptr;
  for (const std::string& part : split_path(path)) {
    slot = nullptr;
    for (const auto& c : current->children_) {
      if (c.name == part) slot = c.slot;
    }
    if (!slot) {
      if (!must_exist) return nullptr;
      std::string have;
      for (const auto& c : current->children_) have += (have.empty() ? "" : ", ") + c.name;
      throw Error(str(type_name(), ": no module '", path, "' (",
                      walked.empty() ? "the root" : walked, " has ",
                      have.empty() ? "no children" : "children: " + have, ")"));
    }
    walked = join(walked, part);
    current = slot->get();
  }
  return slot;
}

ModulePtr Module::child(const std::string& name) const {
  NWQ_CHECK(name.find('.') == std::string::npos, type_name(), ": child('", name,
            "') takes one name; use find() for dotted paths");
  return *find_slot(name, true);
}

ModulePtr Module::find(const std::string& path) const { return *find_slot(path, true); }

bool Module::contains(const std::string& path) const { return find_slot(path, false) != nullptr; }

void Module::replace_child(const std::string& path, ModulePtr module) {
  NWQ_CHECK(module != nullptr, type_name(), ": replace_child('", path, "') with a null module");
  ModulePtr* slot = find_slot(path, true);
  size_t dot = path.rfind('.');
  bool parent_training = dot == std::string::npos ? training_
                                                  : find(path.substr(0, dot))->is_training();
  module->train(parent_training);
  *slot = std::move(module);
}

// ---------------------------------------------------------------- modes, devices, gradients

void Module::train(bool on) {
  training_ = on;
  for (const auto& c : children_) (*c.slot)->train(on);
}

void Module::to(Device device) {
  for (const auto& s : params_) {
    Tensor old = *s.slot;
    if (!old.defined() || old.device() == device) continue;
    Tensor moved = old.detach().to(device);
    if (old.requires_grad()) moved.set_requires_grad(true);
    if (old.grad().defined()) moved.set_grad(old.grad().to(device));
    *s.slot = moved;
  }
  for (const auto& s : buffers_) {
    if (s.slot->defined()) *s.slot = s.slot->to(device);
  }
  for (const auto& c : children_) (*c.slot)->to(device);
}

void Module::zero_grad() {
  for (Tensor& p : parameters()) p.zero_grad();
}

void Module::summary_lines(const std::string& name, int depth, std::string& out) const {
  out += std::string(2 * depth, ' ') + (name.empty() ? "" : name + ": ") + type_name();
  std::string extra = extra_repr();
  if (!extra.empty()) out += "(" + extra + ")";
  out += "\n";
  for (const auto& c : children_) (*c.slot)->summary_lines(c.name, depth + 1, out);
}

std::string Module::summary() const {
  std::string out;
  summary_lines("", 0, out);
  return out + str(num_parameters(), " parameters\n");
}

// ---------------------------------------------------------------- Model

NamedTensors Model::normalize_checkpoint(const NamedTensors& state) const {
  return add_missing_bn_counters(strip_wrapper_prefixes(state));
}

SafetensorsMetadata Model::load_checkpoint(const std::string& path) {
  TensorFile file = load_weights_file(path);  // safetensors or torch.save
  load_checkpoint(file);
  return file.metadata;
}

void Model::load_checkpoint(const TensorFile& file) {
  load_state_dict(normalize_checkpoint(file.tensors), true, file.path);
}

Tensor Model::forward(const Tensor& x) {
  Tensor y = x;
  for (const Block& block : blocks()) y = block.forward(y);
  return y;
}

}  // namespace nwq
