// init_backends(): keeps OpenBLAS single-threaded and, in a CUDA build, calls the registration
// in cuda/register.cu (which also defines cuda_kernel_names() there).
// The CPU-only build compiles this file without any CUDA header.
#include "ops/backend.h"

#include <cblas.h>

namespace nwq {

#ifdef NWQ_USE_CUDA
bool register_cuda_backend();  // cuda/register.cu
bool built_with_cuda() { return true; }
#else
bool built_with_cuda() { return false; }
std::vector<std::string> cuda_kernel_names() { return {}; }
#endif

bool init_backends() {
  // nwq parallelizes with OpenMP and calls OpenBLAS single-threaded: OpenBLAS's own threads
  // keep spinning after a call and stall the OpenMP loops that follow (ops/linear.cpp).
  openblas_set_num_threads(1);
#ifdef NWQ_USE_CUDA
  static bool ready = register_cuda_backend();
  return ready;
#else
  return false;
#endif
}

}  // namespace nwq
