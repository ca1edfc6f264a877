// Opens the datasets named by the CLI's --data flag ("fmnist" or "fmnist:DIR" for now) as
// train and test Datasets with the standard transforms for that data.
#pragma once
#include <memory>
#include <string>

#include "data/dataset.h"

namespace nwq {

struct DataSplits {
  std::string name;  // "fmnist"
  std::unique_ptr<Dataset> train, test;
  int64_t channels = 0, height = 0, width = 0;
  int num_classes = 0;
};

// augment_train turns on the training transforms (random crop with padding, flip).
// load_train=false skips reading the training split (evaluation only).
DataSplits open_data(const std::string& spec, bool augment_train, bool load_train = true);

}  // namespace nwq
