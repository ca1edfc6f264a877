// Prints, one per line, every training-split index that `nwq quantize --calib N --seed S` draws
// for the given seeds (the union, sorted). Used by scripts/fmnist_calib_pool.sh.
// Usage: calib_pool_indices SPLIT_SIZE N SEED [SEED...]
#include <cstdio>
#include <cstdlib>
#include <set>

#include "data/calibration.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s SPLIT_SIZE N SEED [SEED...]\n", argv[0]);
    return 2;
  }
  const long long split_size = std::atoll(argv[1]), n = std::atoll(argv[2]);
  std::set<long long> pool;
  for (int i = 3; i < argc; ++i) {
    for (int64_t index : nwq::calibration_indices(split_size, n, std::strtoull(argv[i], nullptr, 10))) {
      pool.insert(index);
    }
  }
  for (long long index : pool) std::printf("%lld\n", index);
  return 0;
}
