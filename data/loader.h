// DataLoader: shuffled (or ordered) batches of a Dataset as tensors, assembled on worker
// threads. Each sample's augmentation stream is derived from (seed, epoch, index), so batches
// are identical whatever the thread count or timing.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "core/tensor.h"
#include "data/dataset.h"

namespace nwq {

struct Batch {
  Tensor images;  // F32 [B, C, H, W] on the CPU
  Tensor labels;  // I64 [B]
  std::vector<int64_t> indices;
};

struct LoaderOptions {
  int64_t batch_size = 128;
  bool shuffle = false;
  bool drop_last = false;
  uint64_t seed = 0;
  int workers = 2;          // threads building batches ahead (0: build on the caller's thread)
  int64_t limit = -1;  // use `limit` samples (-1: all): the first of a shuffled order, else
                       // evenly spaced ones (so a class-sorted folder keeps every class)
};

class DataLoader {
 public:
  DataLoader(const Dataset& dataset, LoaderOptions options);
  int64_t num_batches() const;
  int64_t num_samples() const;
  // The sample order of an epoch (a permutation when shuffling).
  std::vector<int64_t> epoch_order(int64_t epoch) const;
  // All batches of one epoch, built `workers` at a time ahead of `consume`.
  void for_each_batch(int64_t epoch, const std::function<void(const Batch&, int64_t)>& consume) const;
  Batch make_batch(const std::vector<int64_t>& indices, int64_t epoch) const;

 private:
  const Dataset& dataset_;
  LoaderOptions options_;
};

}  // namespace nwq
