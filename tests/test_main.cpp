// The doctest entry point: starts the backends, then runs every suite.
// The `cuda` suite checks cuda_available() itself and skips with a message without a GPU.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "ops/backend.h"

int main(int argc, char** argv) {
  nwq::init_backends();
  doctest::Context context(argc, argv);
  return context.run();
}
