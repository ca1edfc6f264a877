// Tensor construction, metadata, views and device transfers.
// Element loops for CPU copies/fills live in core/tensor_copy.cpp.
#include "core/tensor.h"

#include <cstring>
#include <limits>

#include "core/tensor_copy.h"

namespace nwq {

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Also refuses shapes whose strides would overflow even when a zero dimension makes the element
// count 0 (e.g. [0, 2^62, 2^62]): the product of the non-zero dimensions must fit in int64.
int64_t shape_numel(const Shape& shape) {
  int64_t n = 1, nonzero = 1;
  for (int64_t d : shape) {
    NWQ_CHECK(d >= 0, "shape ", shape_str(shape), " has a negative dimension");
    NWQ_CHECK(d == 0 || nonzero <= std::numeric_limits<int64_t>::max() / d, "shape ",
              shape_str(shape), " has too many elements");
    if (d != 0) nonzero *= d;
    n *= d;
  }
  return n;
}

static Shape contiguous_strides(const Shape& sizes) {
  Shape strides(sizes.size());
  int64_t s = 1;
  for (size_t i = sizes.size(); i-- > 0;) {
    strides[i] = s;
    s *= sizes[i];
  }
  return strides;
}

void check_dtype(const Tensor& t, DType expected, const char* what) {
  NWQ_CHECK(t.dtype() == expected, what, ": tensor is ", dtype_name(t.dtype()), ", expected ",
            dtype_name(expected));
}

TensorImpl& Tensor::impl() const {
  NWQ_CHECK(impl_ != nullptr, "use of an undefined tensor");
  return *impl_;
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  int64_t n = shape_numel(shape);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(n) * dtype_size(dtype), device);
  impl->sizes = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(impl);
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  return full(shape, 0.0, dtype, device);
}
Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) {
  return full(shape, 1.0, dtype, device);
}
Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(value);
  return t;
}
Tensor Tensor::scalar(double value, DType dtype, Device device) {
  return full({}, value, dtype, device);
}

int64_t Tensor::size(int64_t dim) const {
  int64_t n = this->dim();
  int64_t d = dim < 0 ? dim + n : dim;
  NWQ_CHECK(d >= 0 && d < n, "size(", dim, "): tensor has ", n, " dims");
  return impl().sizes[d];
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : impl().sizes) n *= d;
  return n;
}

bool Tensor::is_contiguous() const {
  return impl().strides == contiguous_strides(impl().sizes) || numel() <= 1;
}

std::string Tensor::describe() const {
  if (!defined()) return "undefined tensor";
  return str(dtype_name(dtype()), shape_str(sizes()), " on ", device().name());
}

void* Tensor::raw_data() const {
  return static_cast<char*>(impl().storage->data()) + impl().offset * dtype_size(dtype());
}

double Tensor::item() const {
  NWQ_CHECK(numel() == 1, "item(): tensor ", describe(), " has ", numel(), " elements");
  Tensor host = to(Device::cpu()).to(DType::F64);
  return *host.data<double>();
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor out = empty(sizes(), dtype(), device());
  copy_into_contiguous(*this, out);
  return out;
}

Tensor Tensor::detach() const {
  auto alias = std::make_shared<TensorImpl>();
  alias->storage = impl().storage;
  alias->sizes = sizes();
  alias->strides = strides();
  alias->offset = offset();
  alias->dtype = dtype();
  return Tensor(alias);
}

Tensor Tensor::to(Device target) const {
  if (device() == target) return *this;
  Tensor src = contiguous();
  Tensor out = empty(sizes(), dtype(), target);
  copy_between_devices(src, out);
  return out;
}

Tensor Tensor::to(DType target) const {
  if (dtype() == target) return *this;
  Tensor src = contiguous();
  Tensor out = empty(sizes(), target, device());
  cast_contiguous(src, out);
  return out;
}

Tensor Tensor::view(const Shape& shape) const {
  NWQ_CHECK(is_contiguous(), "view", shape_str(shape), ": tensor ", describe(),
            " is not contiguous");
  Shape resolved = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < resolved.size(); ++i) {
    if (resolved[i] == -1) {
      NWQ_CHECK(infer < 0, "view", shape_str(shape), ": only one dimension may be -1");
      infer = static_cast<int64_t>(i);
    } else {
      NWQ_CHECK(resolved[i] >= 0, "view", shape_str(shape), ": negative dimension");
      known *= resolved[i];
    }
  }
  if (infer >= 0) {
    NWQ_CHECK(known > 0 && numel() % known == 0, "view", shape_str(shape), ": cannot infer -1 for ",
              describe());
    resolved[infer] = numel() / known;
  }
  NWQ_CHECK(shape_numel(resolved) == numel(), "view", shape_str(shape), ": shape does not match ",
            describe());
  Tensor out = detach();
  out.impl().sizes = resolved;
  out.impl().strides = contiguous_strides(resolved);
  return out;
}

Tensor Tensor::slice(int64_t dim, int64_t start, int64_t end, int64_t step) const {
  int64_t n = this->dim();
  int64_t d = dim < 0 ? dim + n : dim;
  NWQ_CHECK(d >= 0 && d < n, "slice: dim ", dim, " out of range for ", describe());
  NWQ_CHECK(step > 0, "slice: step must be positive, got ", step);
  int64_t len = sizes()[d];
  start = std::min(std::max(start, int64_t{0}), len);
  end = std::min(std::max(end, start), len);
  Tensor out = detach();
  out.impl().offset += start * strides()[d];
  out.impl().sizes[d] = (end - start + step - 1) / step;
  out.impl().strides[d] *= step;
  return out;
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  NWQ_CHECK(static_cast<int64_t>(dims.size()) == dim(), "permute: ", dims.size(),
            " dims given for ", describe());
  std::vector<bool> seen(dims.size(), false);
  Tensor out = detach();
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = dims[i];
    NWQ_CHECK(d >= 0 && d < dim() && !seen[d], "permute: invalid dims for ", describe());
    seen[d] = true;
    out.impl().sizes[i] = sizes()[d];
    out.impl().strides[i] = strides()[d];
  }
  return out;
}

Tensor& Tensor::fill_(double value) {
  NWQ_CHECK(is_contiguous(), "fill_: tensor ", describe(), " is not contiguous");
  fill_contiguous(*this, value);
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  NWQ_CHECK(src.sizes() == sizes() && src.dtype() == dtype(), "copy_: source ", src.describe(),
            " does not match destination ", describe());
  NWQ_CHECK(is_contiguous(), "copy_: destination ", describe(), " is not contiguous");
  copy_between_devices(src.to(device()).contiguous(), *this);
  return *this;
}

Tensor& Tensor::add_(const Tensor& src) {
  NWQ_CHECK(src.sizes() == sizes() && src.dtype() == dtype() && src.device() == device(),
            "add_: ", src.describe(), " does not match ", describe());
  NWQ_CHECK(is_contiguous(), "add_: destination ", describe(), " is not contiguous");
  add_contiguous(*this, src.contiguous());
  return *this;
}

std::shared_ptr<Node> Tensor::grad_fn() const {
  return impl().autograd ? impl().autograd->grad_fn : nullptr;
}

AutogradMeta& Tensor::autograd_meta() {
  if (!impl().autograd) impl().autograd = std::make_unique<AutogradMeta>();
  return *impl().autograd;
}

Tensor& Tensor::set_requires_grad(bool value) {
  NWQ_CHECK(is_leaf(), "set_requires_grad: only leaf tensors can change requires_grad");
  NWQ_CHECK(!value || is_float(dtype()), "set_requires_grad: ", describe(),
            " is not a floating-point tensor");
  autograd_meta().requires_grad = value;
  return *this;
}

Tensor Tensor::grad() const {
  if (!impl().autograd || !impl().autograd->grad) return Tensor();
  return Tensor(impl().autograd->grad);
}

void Tensor::set_grad(const Tensor& grad) {
  if (!grad.defined() && !impl().autograd) return;
  autograd_meta().grad = grad.defined() ? grad.impl_ptr() : nullptr;
}

}  // namespace nwq
