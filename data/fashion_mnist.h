// Fashion-MNIST (Zalando): 70,000 grey 28x28 images of clothing in 10 classes, read from the
// gzipped IDX files that Debian's `dataset-fashion-mnist` package installs.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nwq {

// A whole labelled image set in memory, as raw bytes.
struct ImageDataset {
  int64_t count = 0, channels = 0, height = 0, width = 0;
  std::vector<uint8_t> pixels;  // count * channels * height * width bytes, CHW per image
  std::vector<int64_t> labels;  // count class indices in [0, num_classes)
  int num_classes = 0;
  std::vector<std::string> class_names;  // num_classes names, index = label
};

constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// Loads split "train" (60,000 images) or "test" (10,000) from `dir`, which holds
// {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz (unpacked files without .gz also work).
// Errors name the missing or bad file; a missing file says how to install the package.
ImageDataset load_fashion_mnist(const std::string& split, const std::string& dir = kFashionMnistDir);

}  // namespace nwq
