// Kernel dispatch: each op kernel has one slot holding a function pointer per device/dtype.
// CPU kernels are filled where the slot is defined (ops/<op>.cpp); CUDA kernels are filled by
// the one registration list in cuda/register.cu. A missing kernel throws naming the slot.
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"

namespace nwq {

template <template <class> class Fn>
struct KernelSlot {
  const char* name;
  Fn<float> cpu_f32 = nullptr;
  Fn<double> cpu_f64 = nullptr;
  Fn<float> cuda_f32 = nullptr;

  template <class T>
  Fn<T> get(Device device) const {
    if constexpr (std::is_same_v<T, double>) {
      NWQ_CHECK(device.is_cpu(), name, ": no float64 kernel on ", device.name());
      NWQ_CHECK(cpu_f64, name, ": no float64 CPU kernel");
      return cpu_f64;
    } else {
      Fn<float> fn = device.is_cuda() ? cuda_f32 : cpu_f32;
      NWQ_CHECK(fn, name, ": no ", device.is_cuda() ? "CUDA" : "CPU", " kernel");
      return fn;
    }
  }
};

// Calls f(T{}) with T = float or double matching dtype; other dtypes throw naming the op.
template <class F>
void visit_float(DType dtype, const char* op, F&& f) {
  if (dtype == DType::F32) f(float{});
  else if (dtype == DType::F64) f(double{});
  else throw Error(str(op, ": expected a float32 or float64 tensor, got ", dtype_name(dtype)));
}

// Throws unless all defined tensors share the first one's device and dtype.
void check_same(const char* op, const std::vector<Tensor>& tensors);

// One row per kernel slot, for the test that every op has a CUDA kernel.
struct KernelSlotInfo {
  std::string name;
  bool has_cpu_f32, has_cpu_f64, has_cuda_f32;
};
std::vector<KernelSlotInfo> all_kernel_slots();

}  // namespace nwq
