// Graph nodes of the define-by-run autograd and the `record` call ops use to create them.
// A node keeps its inputs' edges, which inputs need a gradient, and a backward closure.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace nwq {

// Where an input's gradient goes: the node that produced it, or the leaf tensor itself.
struct Edge {
  std::shared_ptr<Node> node;
  std::shared_ptr<TensorImpl> leaf;
};

// Given the gradient of the node's output and which inputs need one, returns one gradient per
// input (undefined where not needed). It must not compute gradients nobody needs.
using BackwardFn =
    std::function<std::vector<Tensor>(const Tensor& grad_out, const std::vector<bool>& needs)>;

struct Node {
  std::string name;
  std::vector<Edge> edges;        // one per input
  std::vector<bool> needs_grad;   // one per input
  std::vector<Shape> input_shapes;
  BackwardFn backward;            // reset to null once run: the graph is freed
};

// True when grad mode is on and at least one defined input requires a gradient.
bool should_record(const std::vector<Tensor>& inputs);

// Attaches a node to `output` (which becomes a non-leaf requiring grad). Undefined inputs
// (an absent bias) are allowed and never need a gradient. Call only if should_record(inputs).
void record(const char* name, const std::vector<Tensor>& inputs, Tensor& output, BackwardFn fn);

}  // namespace nwq
