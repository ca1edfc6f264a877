// Fashion-MNIST (Zalando): 70,000 grey 28x28 images of clothing in 10 classes, read from the
// gzipped IDX files that Debian's `dataset-fashion-mnist` package installs.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/image_dataset.h"

namespace nwq {

constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// Loads split "train" (60,000 images) or "test" (10,000) from `dir`, which holds
// {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz (unpacked files without .gz also work).
// Errors name the missing or bad file; a missing file says how to install the package.
ImageDataset load_fashion_mnist(const std::string& split, const std::string& dir = kFashionMnistDir);

}  // namespace nwq
