// The doctest entry point: starts the backends, then runs every suite. Without a GPU the `cuda`
// suite is filtered out, so doctest counts its cases as skipped (never as passed).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "ops/backend.h"

int main(int argc, char** argv) {
  const bool gpu = nwq::init_backends();
  doctest::Context context(argc, argv);
  if (!gpu) {
    context.addFilter("test-suite-exclude", "cuda");
    std::fprintf(stderr, "nwq_tests: no CUDA device: the cuda suite is skipped\n");
  }
  return context.run();
}
