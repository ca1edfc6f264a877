// Reverse-mode backward: iterative topological sort, then one pass in reverse order.
// Gradients flowing into a node are summed out of place (they may alias each other);
// a leaf's .grad is its own memory and is accumulated in place.
#include "autograd/engine.h"

#include <unordered_map>
#include <unordered_set>

#include "autograd/grad_mode.h"

namespace nwq {

// Nodes reachable from root, ordered so that every node comes before the nodes it feeds from.
static std::vector<Node*> topological_order(Node* root) {
  std::vector<Node*> order;
  std::unordered_set<Node*> visited{root};
  std::vector<std::pair<Node*, size_t>> stack{{root, 0}};
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->edges.size()) {
      Node* child = node->edges[next++].node.get();
      if (child && visited.insert(child).second) stack.push_back({child, 0});
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }
  return {order.rbegin(), order.rend()};  // post-order reversed: root first
}

static void accumulate_leaf(TensorImpl& leaf, const Tensor& grad) {
  AutogradMeta& meta = *leaf.autograd;
  if (!meta.grad) {
    meta.grad = grad.clone().impl_ptr();
  } else {
    Tensor(meta.grad).add_(grad);
  }
}

static Tensor summed(const Tensor& a, const Tensor& b) {
  if (!a.defined()) return b;
  Tensor out = a.clone();
  out.add_(b);
  return out;
}

static void check_gradient(const Node& node, size_t i, const Tensor& g) {
  NWQ_CHECK(g.defined(), node.name, " backward: no gradient returned for input ", i);
  NWQ_CHECK(g.sizes() == node.input_shapes[i], node.name, " backward: gradient for input ", i,
            " has shape ", shape_str(g.sizes()), ", expected ", shape_str(node.input_shapes[i]));
}

void backward(const Tensor& root, const Tensor& grad) {
  NWQ_CHECK(root.requires_grad(), "backward: the tensor does not require grad");
  Tensor seed = grad;
  if (!seed.defined()) {
    NWQ_CHECK(root.numel() == 1, "backward: an implicit gradient needs a one-element tensor, got ",
              root.describe());
    seed = Tensor::ones(root.sizes(), root.dtype(), root.device());
  }
  NWQ_CHECK(seed.sizes() == root.sizes(), "backward: gradient shape ", shape_str(seed.sizes()),
            " does not match ", root.describe());
  NoGradGuard no_grad;
  if (!root.grad_fn()) {
    accumulate_leaf(root.impl(), seed);
    return;
  }
  std::unordered_map<Node*, Tensor> grads{{root.grad_fn().get(), seed}};
  for (Node* node : topological_order(root.grad_fn().get())) {
    NWQ_CHECK(node->backward, node->name,
              " backward: the graph was already freed by an earlier backward()");
    Tensor g = grads[node];
    grads.erase(node);
    std::vector<Tensor> input_grads = node->backward(g, node->needs_grad);
    node->backward = nullptr;  // frees saved tensors
    for (size_t i = 0; i < node->edges.size(); ++i) {
      if (!node->needs_grad[i]) continue;
      check_gradient(*node, i, input_grads.at(i));
      const Edge& edge = node->edges[i];
      if (edge.node) grads[edge.node.get()] = summed(grads[edge.node.get()], input_grads[i]);
      else accumulate_leaf(*edge.leaf, input_grads[i]);
    }
  }
}

}  // namespace nwq
