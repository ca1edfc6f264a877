// Element loops behind Tensor's copies, casts, fills and in-place adds, per device.
// CPU loops are here; CUDA ones come through cuda_backend() (core/allocator.h).
#pragma once
#include "core/tensor.h"

namespace nwq {

void copy_into_contiguous(const Tensor& src, Tensor& dst);   // same device, any strides -> dst
void copy_between_devices(const Tensor& src, Tensor& dst);   // both contiguous, same bytes
void cast_contiguous(const Tensor& src, Tensor& dst);        // same device and shape
void fill_contiguous(Tensor& dst, double value);
void add_contiguous(Tensor& dst, const Tensor& src);         // dst += src, same device

}  // namespace nwq
