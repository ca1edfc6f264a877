// Kernel dispatch: each op kernel has one slot holding a function pointer per device/dtype.
// A slot adds itself to the slot registry when it is defined (ops/<op>.cpp, with its CPU kernels);
// CUDA kernels are filled from the one list in cuda/kernel_list.h. A missing kernel throws.
#pragma once
#include <string>
#include <type_traits>
#include <vector>

#include "core/tensor.h"

namespace nwq {

// One row of the slot registry: a slot's name and which of its kernels are filled.
struct KernelSlotInfo {
  std::string name;
  bool has_cpu_f32, has_cpu_f64, has_cuda_f32;
};

// What the registry keeps of a slot: its name and a way to ask which kernels it holds (the slots
// have different function types, so the registry stores this type-free view of each).
struct RegisteredSlot {
  const char* name;
  const void* slot;
  KernelSlotInfo (*describe)(const void* slot);
};

// The registry: every KernelSlot ever constructed, in construction order. A function-local
// static, so it exists before the first slot (in any file) adds itself.
std::vector<RegisteredSlot>& kernel_slot_registry();

// Every kernel slot of the program (the slots live in the same files as their op's functions, so
// every op that is linked in is listed). Tests check each has a parity case and a CUDA kernel.
std::vector<KernelSlotInfo> all_kernel_slots();

template <template <class> class Fn>
struct KernelSlot {
  const char* name;
  Fn<float> cpu_f32 = nullptr;
  Fn<double> cpu_f64 = nullptr;
  Fn<float> cuda_f32 = nullptr;  // filled by cuda/register.cu when a GPU is found

  // Defining a slot registers it: `KernelSlot<ReluFn> relu_forward_kernel{"relu_forward", ...};`
  KernelSlot(const char* slot_name, Fn<float> cpu_float, Fn<double> cpu_double)
      : name(slot_name), cpu_f32(cpu_float), cpu_f64(cpu_double) {
    kernel_slot_registry().push_back({name, this, &describe});
  }
  KernelSlot(const KernelSlot&) = delete;  // the registry holds this object's address
  KernelSlot& operator=(const KernelSlot&) = delete;

  static KernelSlotInfo describe(const void* slot) {
    const KernelSlot& s = *static_cast<const KernelSlot*>(slot);
    return {s.name, s.cpu_f32 != nullptr, s.cpu_f64 != nullptr, s.cuda_f32 != nullptr};
  }

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

}  // namespace nwq
