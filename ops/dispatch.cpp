// Shared op checks. The list of kernel slots lives in ops/op_list.cpp.
#include "ops/dispatch.h"

namespace nwq {

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
