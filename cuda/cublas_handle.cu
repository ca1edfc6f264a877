// The cuBLAS handle: created once, never destroyed (the driver reclaims it at exit; destroying
// it from a static destructor can run after the CUDA runtime has shut down).
#include "cuda/cublas_handle.h"

#include <mutex>

#include "cuda/cuda_check.h"

namespace nwq {

namespace {
struct CublasState {
  cublasHandle_t handle = nullptr;
  bool tf32 = false;
  std::mutex mutex;
};

CublasState& state() {
  static CublasState* s = new CublasState();
  return *s;
}
}  // namespace

cublasHandle_t cublas_handle() {
  CublasState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.handle) {
    CUBLAS_CHECK(cublasCreate(&s.handle));
    CUBLAS_CHECK(cublasSetMathMode(s.handle, s.tf32 ? CUBLAS_TF32_TENSOR_OP_MATH
                                                    : CUBLAS_DEFAULT_MATH));
  }
  return s.handle;
}

void set_tf32(bool enabled) {
  cublasHandle_t handle = cublas_handle();
  CublasState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.tf32 = enabled;
  CUBLAS_CHECK(cublasSetMathMode(handle, enabled ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
}

bool tf32_enabled() {
  CublasState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.tf32;
}

}  // namespace nwq
