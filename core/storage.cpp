// Storage allocation and release through the device's allocator.
#include "core/storage.h"

namespace nwq {

Storage::Storage(size_t bytes, Device device)
    : bytes_(bytes), device_(device), allocator_(allocator_for(device)) {
  data_ = allocator_->allocate(bytes);
}

Storage::~Storage() { allocator_->deallocate(data_, bytes_); }

}  // namespace nwq
