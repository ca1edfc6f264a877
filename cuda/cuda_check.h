// Error checks for CUDA runtime and cuBLAS calls: a failure throws nwq::Error naming the call,
// file:line and the library's error string. Only files in cuda/ include this (it needs CUDA headers).
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "core/error.h"

#define CUDA_CHECK(call)                                                                   \
  do {                                                                                     \
    cudaError_t nwq_cuda_err_ = (call);                                                    \
    if (nwq_cuda_err_ != cudaSuccess) {                                                    \
      throw ::nwq::Error(::nwq::str("CUDA error: ", #call, " failed at ", __FILE__, ":",   \
                                    __LINE__, ": ", cudaGetErrorString(nwq_cuda_err_)));   \
    }                                                                                      \
  } while (0)

#define CUBLAS_CHECK(call)                                                                 \
  do {                                                                                     \
    cublasStatus_t nwq_cublas_st_ = (call);                                                \
    if (nwq_cublas_st_ != CUBLAS_STATUS_SUCCESS) {                                         \
      throw ::nwq::Error(::nwq::str("cuBLAS error: ", #call, " failed at ", __FILE__, ":", \
                                    __LINE__, ": ", cublasGetStatusString(nwq_cublas_st_))); \
    }                                                                                      \
  } while (0)
