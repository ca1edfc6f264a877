// Tensor: a cheap handle to a TensorImpl (storage + sizes/strides/offset + dtype + optional
// autograd part). Copying a Tensor aliases; clone() copies. Member views are not recorded by
// autograd: differentiable reshapes live in ops/shape.h.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/storage.h"

namespace nwq {

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& shape);  // "[2, 3, 4]"
int64_t shape_numel(const Shape& shape);    // throws on negative dims or overflow

struct Node;  // autograd graph node (autograd/node.h)
struct TensorImpl;

// The autograd part of a tensor; absent (null) for plain tensors.
struct AutogradMeta {
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;  // accumulated gradient of a leaf
  std::shared_ptr<Node> grad_fn;     // the node that produced this tensor (non-leaf)
};

struct TensorImpl {
  StoragePtr storage;
  Shape sizes;
  Shape strides;       // in elements
  int64_t offset = 0;  // in elements
  DType dtype = DType::F32;
  std::unique_ptr<AutogradMeta> autograd;
};

class Rng;

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- factories ----
  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor ones(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::F32,
                     Device device = Device::cpu());
  static Tensor scalar(double value, DType dtype = DType::F32, Device device = Device::cpu());
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape,
                            Device device = Device::cpu());
  static Tensor uniform(const Shape& shape, Rng& rng, double lo = 0.0, double hi = 1.0,
                        DType dtype = DType::F32);
  static Tensor normal(const Shape& shape, Rng& rng, double mean = 0.0, double std = 1.0,
                       DType dtype = DType::F32);

  // ---- metadata ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& sizes() const { return impl().sizes; }
  const Shape& strides() const { return impl().strides; }
  int64_t size(int64_t dim) const;  // negative dims count from the end
  int64_t dim() const { return static_cast<int64_t>(impl().sizes.size()); }
  int64_t numel() const;
  int64_t offset() const { return impl().offset; }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  bool is_contiguous() const;
  std::string describe() const;  // "float32[2, 3] on cpu"

  // ---- data access (pointer to the first element; device memory on CUDA) ----
  template <class T> T* data() const;
  void* raw_data() const;
  template <class T> std::vector<T> to_vector() const;  // copies to host
  double item() const;                                  // one-element tensors

  // ---- copies, views and transfers (not recorded by autograd) ----
  Tensor contiguous() const;  // this tensor if already contiguous
  Tensor clone() const;       // fresh contiguous copy, no autograd
  Tensor detach() const;      // alias of the data without the autograd part
  Tensor to(Device device) const;
  Tensor to(DType dtype) const;
  Tensor view(const Shape& shape) const;  // contiguous only; one -1 allowed
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }
  Tensor& copy_(const Tensor& src);  // same shape and dtype; any devices
  Tensor& add_(const Tensor& src);   // this += src (same shape), used for gradient accumulation

  // ---- autograd part ----
  bool requires_grad() const { return impl().autograd && impl().autograd->requires_grad; }
  Tensor& set_requires_grad(bool value);  // leaves only
  bool is_leaf() const { return !grad_fn(); }
  std::shared_ptr<Node> grad_fn() const;
  Tensor grad() const;  // undefined when no gradient was accumulated
  void set_grad(const Tensor& grad);
  void zero_grad() { set_grad(Tensor()); }
  AutogradMeta& autograd_meta();  // creates it when absent

  TensorImpl& impl() const;
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// Throws unless the tensor's dtype is T; used by data<T>().
void check_dtype(const Tensor& t, DType expected, const char* what);

template <class T>
T* Tensor::data() const {
  check_dtype(*this, dtype_of<T>(), "data<T>()");
  return static_cast<T*>(raw_data());
}

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape, Device device) {
  NWQ_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "Tensor::from_vector: ",
            values.size(), " values for shape ", shape_str(shape));
  Tensor t = empty(shape, dtype_of<T>(), Device::cpu());
  std::copy(values.begin(), values.end(), t.data<T>());
  return device.is_cpu() ? t : t.to(device);
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  Tensor host = contiguous().to(Device::cpu());
  const T* p = host.data<T>();
  return std::vector<T>(p, p + host.numel());
}

}  // namespace nwq
