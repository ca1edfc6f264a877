// init_backends(): in a CUDA build, calls the registration list in cuda/register.cu.
// The CPU-only build compiles this file without any CUDA header.
#include "ops/backend.h"

namespace nwq {

#ifdef NWQ_USE_CUDA
bool register_cuda_backend();  // cuda/register.cu
#endif

bool init_backends() {
#ifdef NWQ_USE_CUDA
  static bool ready = register_cuda_backend();
  return ready;
#else
  return false;
#endif
}

}  // namespace nwq
