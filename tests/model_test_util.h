// Helpers for the model-zoo tests: the names and output shapes of a model's blocks(), and
// whether a state_dict has a key.
#pragma once
#include <algorithm>
#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "models/module.h"

namespace nwq::test {

inline std::vector<std::string> block_names(Model& model) {
  std::vector<std::string> names;
  for (const Block& b : model.blocks()) names.push_back(b.name);
  return names;
}

// Each block's output shape for one input (eval mode, no gradients).
inline std::vector<Shape> block_shapes(Model& model, const Tensor& x) {
  NoGradGuard no_grad;
  model.eval();
  std::vector<Shape> shapes;
  Tensor y = x;
  for (const Block& b : model.blocks()) {
    y = b.forward(y);
    shapes.push_back(y.sizes());
  }
  return shapes;
}

inline bool has_key(const NamedTensors& state, const std::string& key) {
  return std::any_of(state.begin(), state.end(), [&](const auto& e) { return e.first == key; });
}

}  // namespace nwq::test
