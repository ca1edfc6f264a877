// Grad-mode flag and graph-node recording.
#include "autograd/node.h"

#include "autograd/grad_mode.h"

namespace nwq {

static thread_local bool g_grad_enabled = true;

bool grad_enabled() { return g_grad_enabled; }
void set_grad_enabled(bool enabled) { g_grad_enabled = enabled; }

bool should_record(const std::vector<Tensor>& inputs) {
  if (!grad_enabled()) return false;
  for (const Tensor& t : inputs) {
    if (t.defined() && t.requires_grad()) return true;
  }
  return false;
}

void record(const char* name, const std::vector<Tensor>& inputs, Tensor& output, BackwardFn fn) {
  auto node = std::make_shared<Node>();
  node->name = name;
  for (const Tensor& t : inputs) {
    bool needs = t.defined() && t.requires_grad();
    Edge edge;
    if (needs) {
      if (t.grad_fn()) edge.node = t.grad_fn();
      else edge.leaf = t.impl_ptr();
    }
    node->edges.push_back(edge);
    node->needs_grad.push_back(needs);
    node->input_shapes.push_back(t.defined() ? t.sizes() : Shape{});
  }
  node->backward = std::move(fn);
  AutogradMeta& meta = output.autograd_meta();
  meta.requires_grad = true;
  meta.grad_fn = node;
}

}  // namespace nwq
