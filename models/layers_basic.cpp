// Parameter-free layers: activations, pooling, flatten, dropout and the Sequential container.
#include "models/layers.h"

#include "ops/activation.h"
#include "ops/elementwise.h"
#include "ops/shape.h"

namespace nwq {

Tensor ReLU::forward(const Tensor& x) { return relu(x); }

Tensor ReLU6::forward(const Tensor& x) { return relu6(x); }

// ---------------------------------------------------------------- pooling

namespace {

Pool2dParams make_pool_params(const char* layer, Size2 kernel, Size2 stride, Size2 padding,
                              bool ceil_mode, bool count_include_pad) {
  if (stride == Size2(0)) stride = kernel;
  NWQ_CHECK(kernel.h > 0 && kernel.w > 0 && stride.h > 0 && stride.w > 0 && padding.h >= 0 &&
                padding.w >= 0 && 2 * padding.h <= kernel.h && 2 * padding.w <= kernel.w,
            layer, ": invalid kernel ", kernel.h, "x", kernel.w, ", stride ", stride.h, "x",
            stride.w, " or padding ", padding.h, "x", padding.w,
            " (padding may be at most half the kernel)");
  Pool2dParams p;
  p.kernel_h = kernel.h;
  p.kernel_w = kernel.w;
  p.stride_h = stride.h;
  p.stride_w = stride.w;
  p.pad_h = padding.h;
  p.pad_w = padding.w;
  p.count_include_pad = count_include_pad;
  p.ceil_mode = ceil_mode;
  return p;
}

std::string pool_repr(const Pool2dParams& p) {
  return str("kernel=", p.kernel_h, "x", p.kernel_w, ", stride=", p.stride_h, "x", p.stride_w,
             ", padding=", p.pad_h, "x", p.pad_w, p.ceil_mode ? ", ceil_mode" : "");
}

}  // namespace

MaxPool2d::MaxPool2d(Size2 kernel, Size2 stride, Size2 padding, bool ceil_mode)
    : params_(make_pool_params("MaxPool2d", kernel, stride, padding, ceil_mode, true)) {}

Tensor MaxPool2d::forward(const Tensor& x) { return max_pool2d(x, params_); }

std::string MaxPool2d::extra_repr() const { return pool_repr(params_); }

AvgPool2d::AvgPool2d(Size2 kernel, Size2 stride, Size2 padding, bool ceil_mode,
                     bool count_include_pad)
    : params_(make_pool_params("AvgPool2d", kernel, stride, padding, ceil_mode,
                               count_include_pad)) {}

Tensor AvgPool2d::forward(const Tensor& x) { return avg_pool2d(x, params_); }

std::string AvgPool2d::extra_repr() const {
  return pool_repr(params_) + (params_.count_include_pad ? "" : ", count_include_pad=false");
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(Size2 output) : output_(output) {
  NWQ_CHECK(output.h > 0 && output.w > 0, "AdaptiveAvgPool2d: invalid output size ", output.h,
            "x", output.w);
}

Tensor AdaptiveAvgPool2d::forward(const Tensor& x) {
  return adaptive_avg_pool2d(x, output_.h, output_.w);
}

std::string AdaptiveAvgPool2d::extra_repr() const { return str(output_.h, "x", output_.w); }

// ---------------------------------------------------------------- flatten, dropout

Tensor Flatten::forward(const Tensor& x) { return flatten(x, start_dim_); }

Dropout::Dropout(double p, uint64_t seed) : p_(p), rng_(seed) {
  NWQ_CHECK(p >= 0 && p < 1, "Dropout: p must be in [0, 1), got ", p);
}

Tensor Dropout::forward(const Tensor& x) { return dropout(x, p_, is_training(), rng_); }

std::string Dropout::extra_repr() const { return str("p=", p_); }

// ---------------------------------------------------------------- Sequential

Sequential::Sequential(const std::vector<ModulePtr>& modules) {
  for (const ModulePtr& m : modules) push_back(m);
}

Sequential& Sequential::push_back(ModulePtr module) {
  return push_back(std::to_string(items_.size()), std::move(module));
}

Sequential& Sequential::push_back(const std::string& name, ModulePtr module) {
  NWQ_CHECK(module != nullptr, "Sequential: push_back of a null module '", name, "' at index ",
            items_.size());
  items_.push_back(std::move(module));
  try {
    register_module(name, &items_.back());  // a bad or taken name throws: undo the push
  } catch (...) {
    items_.pop_back();
    throw;
  }
  return *this;
}

ModulePtr Sequential::operator[](size_t i) const {
  NWQ_CHECK(i < items_.size(), "Sequential: index ", i, " out of range (", items_.size(),
            " modules)");
  return items_[i];
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (const ModulePtr& m : items_) y = m->forward(y);
  return y;
}

}  // namespace nwq
