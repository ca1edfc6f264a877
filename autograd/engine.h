// The backward engine: walks the graph from a root in reverse topological order,
// accumulates gradients, writes leaf .grad, and frees the graph as it goes.
#pragma once
#include "autograd/node.h"

namespace nwq {

// root must require grad. grad defaults to ones for a one-element root.
void backward(const Tensor& root, const Tensor& grad = Tensor());

}  // namespace nwq
