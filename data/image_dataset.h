// ImageDataset: a whole labelled image set held in memory as raw bytes (uint8, CHW per image).
// The Fashion-MNIST, CIFAR-10 and in-memory ImageFolder readers all produce one.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nwq {

struct ImageDataset {
  int64_t count = 0, channels = 0, height = 0, width = 0;
  std::vector<uint8_t> pixels;  // count * channels * height * width bytes, CHW per image
  std::vector<int64_t> labels;  // count class indices in [0, num_classes)
  int num_classes = 0;
  std::vector<std::string> class_names;  // num_classes names, index = label
};

}  // namespace nwq
