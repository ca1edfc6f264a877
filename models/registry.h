// The model registry: names ("resnet20", ...) to constructors taking num_classes, in_channels
// and an init seed. Adding a model is one row in the table in models/registry.cpp.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/rng.h"
#include "models/module.h"

namespace nwq {

struct ModelEntry {
  std::string name;
  std::string summary;  // one line for --help and `nwq info`
  std::function<ModelPtr(int num_classes, int in_channels, Rng& rng)> create;
};

// All registered models, in the table's order.
const std::vector<ModelEntry>& model_table();
std::vector<std::string> model_names();

// A freshly initialised model (weights drawn from Rng(seed)); an unknown name throws listing
// the known ones. ModelPtr converts to ModulePtr.
ModelPtr create_model(const std::string& name, int num_classes, int in_channels, uint64_t seed);

}  // namespace nwq
