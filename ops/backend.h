// Explicit backend start-up: fills the CUDA kernel slots when this build has CUDA and a GPU.
// Every program (CLI, tests, benchmarks, examples) calls init_backends() first.
#pragma once

namespace nwq {

// Returns true when a CUDA device is ready. Safe to call more than once.
bool init_backends();

}  // namespace nwq
