// Fashion-MNIST loader: finds the split's two IDX files, reads them, and checks that images and
// labels agree (3-D images, 1-D labels, same count, labels below 10) before building the dataset.
#include "data/fashion_mnist.h"

#include <filesystem>
#include <system_error>
#include <utility>

#include "core/error.h"
#include "data/idx.h"

namespace nwq {
namespace {

const std::vector<std::string>& fashion_mnist_class_names() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                                 "Coat",        "Sandal",  "Shirt",    "Sneaker",
                                                 "Bag",         "Ankle boot"};
  return names;
}

bool file_exists(const std::string& path) {
  std::error_code error;  // unreadable directories count as "not there" instead of throwing
  return std::filesystem::is_regular_file(path, error);
}

// `dir/name.gz`, or `dir/name` when only the unpacked file is there.
std::string find_idx_file(const std::string& dir, const std::string& name) {
  const std::string gz_path = dir + "/" + name + ".gz";
  if (file_exists(gz_path)) return gz_path;
  const std::string raw_path = dir + "/" + name;
  if (file_exists(raw_path)) return raw_path;
  throw Error(str("Fashion-MNIST file not found: ", gz_path,
                  " (install it with: apt-get install dataset-fashion-mnist)"));
}

}  // namespace

ImageDataset load_fashion_mnist(const std::string& split, const std::string& dir) {
  NWQ_CHECK(split == "train" || split == "test",
            "load_fashion_mnist: split must be \"train\" or \"test\", got \"", split, "\"");
  const std::string prefix = split == "train" ? "train" : "t10k";
  const std::string images_path = find_idx_file(dir, prefix + "-images-idx3-ubyte");
  const std::string labels_path = find_idx_file(dir, prefix + "-labels-idx1-ubyte");
  IdxArray images = read_idx_file(images_path);
  IdxArray labels = read_idx_file(labels_path);
  NWQ_CHECK(images.dims.size() == 3, images_path, ": expected 3-D images, got ",
            images.dims.size(), " dims");
  NWQ_CHECK(labels.dims.size() == 1, labels_path, ": expected 1-D labels, got ",
            labels.dims.size(), " dims");
  NWQ_CHECK(images.dims[0] == labels.dims[0], images_path, " has ", images.dims[0],
            " images but ", labels_path, " has ", labels.dims[0], " labels");

  ImageDataset dataset;
  dataset.count = images.dims[0];
  dataset.channels = 1;
  dataset.height = images.dims[1];
  dataset.width = images.dims[2];
  dataset.num_classes = 10;
  dataset.class_names = fashion_mnist_class_names();
  dataset.labels.reserve(labels.data.size());
  for (size_t i = 0; i < labels.data.size(); ++i) {
    const uint8_t label = labels.data[i];
    NWQ_CHECK(label < dataset.num_classes, labels_path, ": label ", int{label}, " at index ", i,
              " is not below ", dataset.num_classes);
    dataset.labels.push_back(label);
  }
  dataset.pixels = std::move(images.data);
  return dataset;
}

}  // namespace nwq
