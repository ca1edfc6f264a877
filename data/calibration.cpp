// Calibration sampling: a partial Fisher-Yates shuffle over a virtual 0..size-1 array (only the
// swapped positions are stored, so drawing 1,024 of 1.28 million costs 1,024 steps).
#include "data/calibration.h"

#include <unordered_map>

#include "core/error.h"
#include "core/rng.h"

namespace nwq {

std::vector<int64_t> calibration_indices(int64_t dataset_size, int64_t n, uint64_t seed) {
  NWQ_CHECK(n > 0, "--calib: the number of calibration images must be positive, got ", n);
  NWQ_CHECK(n <= dataset_size, "--calib: asked for ", n,
            " calibration images but the training split has only ", dataset_size);
  Rng rng(seed);
  // moved[p] is the value at position p of the virtual array, for positions that were swapped.
  std::unordered_map<int64_t, int64_t> moved;
  auto value_at = [&moved](int64_t p) {
    auto it = moved.find(p);
    return it == moved.end() ? p : it->second;
  };
  std::vector<int64_t> drawn;
  drawn.reserve(n);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t j = i + rng.randint(dataset_size - i);  // uniform over the undrawn positions
    const int64_t picked = value_at(j);
    moved[j] = value_at(i);  // position i's value takes the picked one's place
    drawn.push_back(picked);
  }
  return drawn;
}

SubsetDataset::SubsetDataset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices)
    : base_(std::move(base)), indices_(std::move(indices)) {
  NWQ_CHECK(base_ != nullptr, "SubsetDataset: no base dataset");
  for (int64_t index : indices_) {
    NWQ_CHECK(index >= 0 && index < base_->size(), "SubsetDataset: index ", index,
              " out of range (base size ", base_->size(), ")");
  }
}

int64_t SubsetDataset::label(int64_t index) const {
  NWQ_CHECK(index >= 0 && index < size(), "SubsetDataset: index ", index, " out of range (size ",
            size(), ")");
  return base_->label(indices_[index]);
}

void SubsetDataset::get(int64_t index, float* dst, Rng& rng) const {
  label(index);  // range check
  base_->get(indices_[index], dst, rng);
}

std::unique_ptr<SubsetDataset> calibration_subset(std::shared_ptr<const Dataset> base, int64_t n,
                                                  uint64_t seed) {
  NWQ_CHECK(base != nullptr, "calibration_subset: no base dataset");
  std::vector<int64_t> indices = calibration_indices(base->size(), n, seed);
  return std::make_unique<SubsetDataset>(std::move(base), std::move(indices));
}

}  // namespace nwq
