// --data spec parsing and dataset construction: which reader, which layout (CIFAR-10 binary or
// ImageFolder), and which transforms each split gets.
#include "data/sources.h"

#include <stb/stb_image.h>

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "data/cifar10.h"
#include "data/image_check.h"
#include "data/fashion_mnist.h"
#include "data/normalization.h"

namespace nwq {
namespace fs = std::filesystem;
namespace {

bool is_dir(const std::string& path) {
  std::error_code error;
  return fs::is_directory(path, error);
}

// The data kind's transform with DataOptions' mean/std (when given) in place of its own.
template <class Transform>
Transform normalized(Transform t, const DataOptions& o) {
  if (!o.mean.empty()) t.mean = o.mean;
  if (!o.std.empty()) t.std = o.std;
  return t;
}

// Fills the shape fields from the test split, which every source opens.
void describe(DataSplits& s) {
  std::vector<int64_t> shape = s.test->sample_shape();
  s.channels = shape[0];
  s.height = shape[1];
  s.width = shape[2];
  s.num_classes = s.test->num_classes();
}

DataSplits open_fashion_mnist(const std::string& dir, const DataOptions& o) {
  DataSplits s;
  s.name = "fmnist";
  s.source = "Fashion-MNIST idx files in " + dir;
  ImageDataset test = load_fashion_mnist("test", dir);
  s.class_names = test.class_names;
  const ImageTransform test_t = normalized(fashion_mnist_transform(false), o);
  s.mean = test_t.mean, s.std = test_t.std;
  s.test = std::make_unique<InMemoryImageDataset>(std::move(test), test_t);
  if (o.load_train) {
    s.train = std::make_unique<InMemoryImageDataset>(
        load_fashion_mnist("train", dir), normalized(fashion_mnist_transform(o.augment_train), o));
  }
  describe(s);
  return s;
}

ImageFolderOptions folder_options(const DataOptions& o, bool check_headers) {
  ImageFolderOptions f;
  f.bad_images = o.bad_images;
  f.check_headers = check_headers;
  f.threads = o.threads;
  return f;
}

// The train and test indexes of DIR/train and DIR/<eval_name> (train only when asked for),
// with matching class folders.
struct FolderPair {
  ImageFolderIndex train, test;
};
FolderPair scan_pair(const std::string& train_dir, const std::string& test_dir,
                     const DataOptions& o, bool check_headers, DataSplits& s) {
  FolderPair p;
  p.test = scan_image_folder(test_dir, folder_options(o, check_headers));
  s.skipped.insert(s.skipped.end(), p.test.skipped.begin(), p.test.skipped.end());
  if (o.load_train) {
    p.train = scan_image_folder(train_dir, folder_options(o, check_headers));
    s.skipped.insert(s.skipped.end(), p.train.skipped.begin(), p.train.skipped.end());
    check_same_classes(p.train, p.test);
  }
  s.class_names = p.test.class_names;
  return p;
}

// Small images (CIFAR-size): decode both splits once into memory.
void open_in_memory(FolderPair& p, const DataOptions& o, ImageSize size,
                    const ImageTransform& train_t, const ImageTransform& test_t, DataSplits& s) {
  const ImageFolderOptions f = folder_options(o, false);
  s.mean = test_t.mean, s.std = test_t.std;
  ImageDataset test = decode_image_folder(p.test, f, size.height, size.width, &s.skipped);
  s.test = std::make_unique<InMemoryImageDataset>(std::move(test), test_t);
  if (o.load_train) {
    ImageDataset train = decode_image_folder(p.train, f, size.height, size.width, &s.skipped);
    s.train = std::make_unique<InMemoryImageDataset>(std::move(train), train_t);
  }
}

// Large images: decode per sample with the ImageNet pipelines.
void open_lazy(FolderPair& p, const DataOptions& o, DataSplits& s) {
  const ImagePipeline test = normalized(imagenet_eval_pipeline(), o);
  s.mean = test.mean, s.std = test.std;
  s.test = std::make_unique<ImageFolderDataset>(std::move(p.test), test, o.bad_images);
  if (o.load_train) {
    ImagePipeline train = o.augment_train ? imagenet_train_pipeline() : imagenet_eval_pipeline();
    s.train = std::make_unique<ImageFolderDataset>(std::move(p.train), normalized(train, o),
                                                   o.bad_images);
  }
}

// DIR/val, else DIR/test ("" when neither).
std::string eval_dir_of(const std::string& dir) {
  for (const char* name : {"val", "test"})
    if (is_dir(dir + "/" + name)) return dir + "/" + name;
  return "";
}

DataSplits open_cifar10(const std::string& dir, const DataOptions& o) {
  NWQ_CHECK(is_dir(dir), "--data cifar10:", dir, ": folder not found");
  DataSplits s;
  s.name = "cifar10";
  const std::string bin = find_cifar10_binary_dir(dir);
  const std::string eval_dir = eval_dir_of(dir);
  if (!bin.empty()) {
    s.source = "CIFAR-10 binary batches in " + bin;
    ImageDataset test = load_cifar10_binary(bin, "test");
    s.class_names = test.class_names;
    const ImageTransform test_t = normalized(cifar10_transform(false), o);
    s.mean = test_t.mean, s.std = test_t.std;
    s.test = std::make_unique<InMemoryImageDataset>(std::move(test), test_t);
    if (o.load_train) {
      s.train = std::make_unique<InMemoryImageDataset>(
          load_cifar10_binary(bin, "train"), normalized(cifar10_transform(o.augment_train), o));
    }
  } else {
    NWQ_CHECK(is_dir(dir + "/train") && !eval_dir.empty(), "--data cifar10:", dir,
              ": found neither CIFAR-10 binary batches (data_batch_1.bin ... test_batch.bin in ",
              dir, " or ", dir, "/cifar-10-batches-bin) nor an ImageFolder (", dir, "/train and ",
              dir, "/test or ", dir, "/val)");
    s.source = "CIFAR-10 ImageFolder " + dir + "/train and " + eval_dir;
    FolderPair p = scan_pair(dir + "/train", eval_dir, o, false, s);
    NWQ_CHECK(p.test.class_names.size() == 10, "--data cifar10:", dir, ": ", eval_dir, " has ",
              p.test.class_names.size(), " class folders, CIFAR-10 has 10 (folder:", dir,
              " reads other ImageFolders)");
    open_in_memory(p, o, {32, 32}, normalized(cifar10_transform(o.augment_train), o),
                   normalized(cifar10_transform(false), o), s);
  }
  describe(s);
  return s;
}

DataSplits open_imagenet(const std::string& dir, const DataOptions& o) {
  NWQ_CHECK(is_dir(dir + "/val"), "--data imagenet:", dir, ": no ", dir,
            "/val folder (expected torchvision's layout: ", dir, "/train/<class>/*.JPEG and ", dir,
            "/val/<class>/*.JPEG)");
  NWQ_CHECK(!o.load_train || is_dir(dir + "/train"), "--data imagenet:", dir, ": no ", dir,
            "/train folder");
  DataSplits s;
  s.name = "imagenet";
  s.source = "ImageNet ImageFolder " + dir + "/train and " + dir + "/val";
  FolderPair p = scan_pair(dir + "/train", dir + "/val", o, o.check_headers, s);
  open_lazy(p, o, s);
  describe(s);
  return s;
}

DataSplits open_folder(const std::string& dir, const DataOptions& o) {
  const std::string eval_dir = eval_dir_of(dir);
  NWQ_CHECK(!eval_dir.empty(), "--data folder:", dir, ": no ", dir, "/val or ", dir,
            "/test folder (expected ", dir, "/train/<class>/<image> and ", dir,
            "/val/<class>/<image>)");
  NWQ_CHECK(!o.load_train || is_dir(dir + "/train"), "--data folder:", dir, ": no ", dir,
            "/train folder");
  DataSplits s;
  s.name = "folder";
  s.source = "ImageFolder " + dir + "/train and " + eval_dir;
  FolderPair p = scan_pair(dir + "/train", eval_dir, o, o.check_headers, s);
  const std::string& probe = p.test.files.at(0);
  int w = 0, h = 0;
  std::string why;
  NWQ_CHECK(read_image_header(probe, w, h, why), why);
  if (std::min(w, h) >= kLargeImageSide) {
    open_lazy(p, o, s);
  } else {
    ImageTransform test_t;
    test_t.mean.assign(kImageNetMean, kImageNetMean + 3);
    test_t.std.assign(kImageNetStd, kImageNetStd + 3);
    test_t = normalized(test_t, o);
    ImageTransform train_t = test_t;
    if (o.augment_train) {
      train_t.crop_padding = std::max(1, std::min(w, h) / 8);
      train_t.random_flip = true;
    }
    open_in_memory(p, o, {h, w}, train_t, test_t, s);
  }
  describe(s);
  return s;
}

}  // namespace

DataSplits open_data(const std::string& spec, const DataOptions& options) {
  if (!options.mean.empty()) check_channel_count(options.mean, spec, "--mean");
  if (!options.std.empty()) check_channel_count(options.std, spec, "--std");
  for (float v : options.std) NWQ_CHECK(v > 0, "--std: values must be > 0, got ", v);
  const size_t colon = spec.find(':');
  const std::string kind = spec.substr(0, colon);
  const std::string dir = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (kind == "fmnist") return open_fashion_mnist(dir.empty() ? kFashionMnistDir : dir, options);
  const bool known = kind == "cifar10" || kind == "imagenet" || kind == "folder";
  NWQ_CHECK(known, "--data: unknown data set '", spec,
            "' (expected fmnist, fmnist:DIR, cifar10:DIR, imagenet:DIR or folder:DIR)");
  NWQ_CHECK(!dir.empty(), "--data ", kind, " needs a folder: --data ", kind, ":DIR");
  if (kind == "cifar10") return open_cifar10(dir, options);
  if (kind == "imagenet") return open_imagenet(dir, options);
  return open_folder(dir, options);
}

DataSplits open_data(const std::string& spec, bool augment_train, bool load_train) {
  DataOptions options;
  options.augment_train = augment_train;
  options.load_train = load_train;
  return open_data(spec, options);
}

}  // namespace nwq
