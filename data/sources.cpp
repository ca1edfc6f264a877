// --data spec parsing and dataset construction.
#include "data/sources.h"

#include "core/error.h"

namespace nwq {

static DataSplits open_fashion_mnist(const std::string& dir, bool augment, bool load_train) {
  DataSplits s;
  s.name = "fmnist";
  ImageDataset test = load_fashion_mnist("test", dir);
  s.channels = test.channels;
  s.height = test.height;
  s.width = test.width;
  s.num_classes = test.num_classes;
  s.test = std::make_unique<InMemoryImageDataset>(std::move(test), fashion_mnist_transform(false));
  if (load_train) {
    s.train = std::make_unique<InMemoryImageDataset>(load_fashion_mnist("train", dir),
                                                     fashion_mnist_transform(augment));
  }
  return s;
}

DataSplits open_data(const std::string& spec, bool augment_train, bool load_train) {
  size_t colon = spec.find(':');
  std::string kind = spec.substr(0, colon);
  std::string dir = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (kind == "fmnist") {
    return open_fashion_mnist(dir.empty() ? kFashionMnistDir : dir, augment_train, load_train);
  }
  throw Error(str("--data: unknown data set '", spec, "' (expected fmnist or fmnist:DIR)"));
}

}  // namespace nwq
