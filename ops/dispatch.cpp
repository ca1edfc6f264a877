// The kernel slot registry (every KernelSlot adds itself when it is constructed) and the shared
// op checks.
#include "ops/dispatch.h"

namespace nwq {

std::vector<RegisteredSlot>& kernel_slot_registry() {
  static std::vector<RegisteredSlot> registry;
  return registry;
}

std::vector<KernelSlotInfo> all_kernel_slots() {
  std::vector<KernelSlotInfo> slots;
  for (const RegisteredSlot& entry : kernel_slot_registry()) {
    slots.push_back(entry.describe(entry.slot));
  }
  return slots;
}

void check_same(const char* op, const std::vector<Tensor>& tensors) {
  const Tensor* first = nullptr;
  for (const Tensor& t : tensors) {
    if (!t.defined()) continue;
    if (!first) {
      first = &t;
      continue;
    }
    NWQ_CHECK(t.device() == first->device() && t.dtype() == first->dtype(), op,
              ": inputs disagree: ", first->describe(), " vs ", t.describe());
  }
}

}  // namespace nwq
