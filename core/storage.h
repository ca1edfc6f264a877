// Storage: the ref-counted owner of one allocation (pointer, byte count, device).
// It has no shape; Tensors view it through sizes, strides and an offset.
#pragma once
#include <cstddef>
#include <memory>

#include "core/allocator.h"
#include "core/device.h"

namespace nwq {

class Storage {
 public:
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
  Allocator* allocator_ = nullptr;
};

using StoragePtr = std::shared_ptr<Storage>;

}  // namespace nwq
