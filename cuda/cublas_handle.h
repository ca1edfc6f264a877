// The process's one cuBLAS handle (created by register_cuda_backend, default stream) and the
// TF32 switch. TF32 is off by default so sgemm results match the CPU to FP32 rounding.
#pragma once
#include <cublas_v2.h>

namespace nwq {

cublasHandle_t cublas_handle();
// On: cuBLAS may use TF32 tensor cores for FP32 gemm (about 10 mantissa bits). The CLI sets it
// through cuda_backend().set_tf32.
void set_tf32(bool enabled);
bool tf32_enabled();

}  // namespace nwq
