// `make bench`: runs the benchmarks named on the command line (default: all) and prints their
// tables. Each benchmark measures its own reference (OpenBLAS sgemm, PyTorch) in the same run.
#include <cstdio>
#include <string>

#include "bench/bench.h"
#include "core/error.h"
#include "ops/backend.h"

int main(int argc, char** argv) {
  nwq::init_backends();
  bool all = argc < 2;
  auto wanted = [&](const char* name) {
    for (int i = 1; i < argc; ++i) {
      if (std::string(argv[i]) == name) return true;
    }
    return all;
  };
  try {
    if (wanted("conv")) run_conv_bench();
    if (wanted("train")) run_train_bench();
    if (wanted("models")) run_model_bench();
    if (wanted("gpuconv")) run_gpu_conv_bench();
    if (wanted("nwqiter")) run_nwq_bench();
    if (wanted("calib")) run_calib_bench();
    if (wanted("intengine")) run_int_engine_bench();
    // Minutes of GPU work (six ImageNet-shape networks): only when named.
    if (argc >= 2 && wanted("zootime")) run_zoo_time_bench();
  } catch (const nwq::Error& e) {
    std::fprintf(stderr, "bench: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
