// Explicit backend start-up: fills the CUDA kernel slots when this build has CUDA and a GPU.
// Every program (CLI, tests, benchmarks, examples) calls init_backends() first.
#pragma once
#include <string>
#include <vector>

namespace nwq {

// Returns true when a CUDA device is ready. Safe to call more than once.
bool init_backends();

// True when this build has the CUDA backend compiled in (whether or not a GPU is present).
bool built_with_cuda();
// The kernel slots this build has a CUDA kernel for (cuda/kernel_list.h), by slot name; empty in a
// CPU-only build. Known without a GPU, so CPU-only machines can check that no slot lacks one.
std::vector<std::string> cuda_kernel_names();

}  // namespace nwq
