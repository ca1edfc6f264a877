// Calibration data for post-training quantization: a seeded draw of N distinct images from a
// training split, and SubsetDataset, a view of a Dataset restricted to chosen indices.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "data/dataset.h"

namespace nwq {

// n distinct indices in [0, dataset_size), uniformly at random, in draw order (not sorted): a
// partial Fisher-Yates shuffle seeded by `seed`. Draw order makes the sets nested: the first k
// indices for n are the indices for k (same size and seed), so a larger calibration set extends
// a smaller one. Errors name --calib when n <= 0 or n > dataset_size.
std::vector<int64_t> calibration_indices(int64_t dataset_size, int64_t n, uint64_t seed);

// The samples base[indices[0]], base[indices[1]], ... as a Dataset. It transforms them as `base`
// does, so for calibration open the training split with the evaluation transform (no
// augmentation: open_data with augment_train = false), as the quantized model will see test
// images. Sample i uses the Rng the loader gives for position i.
class SubsetDataset : public Dataset {
 public:
  SubsetDataset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices);
  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  std::vector<int64_t> sample_shape() const override { return base_->sample_shape(); }
  int64_t label(int64_t index) const override;
  int num_classes() const override { return base_->num_classes(); }
  void get(int64_t index, float* dst, Rng& rng) const override;
  const std::vector<int64_t>& indices() const { return indices_; }

 private:
  std::shared_ptr<const Dataset> base_;
  std::vector<int64_t> indices_;
};

// SubsetDataset over calibration_indices(base->size(), n, seed).
std::unique_ptr<SubsetDataset> calibration_subset(std::shared_ptr<const Dataset> base, int64_t n,
                                                  uint64_t seed);

}  // namespace nwq
