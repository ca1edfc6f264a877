// Opens the datasets named by the CLI's --data flag as train and test Datasets with the standard
// transforms for that data: fmnist[:DIR], cifar10:DIR, imagenet:DIR, folder:DIR.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/fashion_mnist.h"
#include "data/image_folder.h"

namespace nwq {

struct DataOptions {
  bool augment_train = false;  // training transforms on the train split (else evaluation ones)
  bool load_train = true;      // false: open the test/val split only (evaluation)
  BadImagePolicy bad_images = BadImagePolicy::Stop;  // undecodable image files: stop or skip
  bool check_headers = true;  // read every image header while opening (ImageFolder data)
  int threads = 2;            // header checks and in-memory decoding
  // Normalize(mean, std) per channel in place of the data kind's own statistics (empty: the
  // kind's default; fmnist has 1 channel, the others 3). std values must be > 0.
  std::vector<float> mean, std;
};

struct DataSplits {
  std::string name;    // "fmnist", "cifar10", "imagenet" or "folder"
  std::string source;  // what was read, for logs: "CIFAR-10 binary batches in DIR", ...
  std::unique_ptr<Dataset> train, test;         // test: the test/ or val/ split; train may be null
  int64_t channels = 0, height = 0, width = 0;  // sample shape after the transforms
  int num_classes = 0;
  std::vector<std::string> class_names;  // index = label
  std::vector<BadImage> skipped;         // image files left out under BadImagePolicy::Skip
  std::vector<float> mean, std;          // the normalization every split uses (one per channel)
};

// --data specs:
//   fmnist, fmnist:DIR   Fashion-MNIST idx files (default: Debian's dataset-fashion-mnist),
//                        normalized with mean 0.2860, std 0.3530; training augmentation:
//                        random crop 28 with padding 2, horizontal flip.
//   cifar10:DIR          CIFAR-10 binary batches (DIR or DIR/cifar-10-batches-bin holds
//                        data_batch_1..5.bin and test_batch.bin), or else an ImageFolder of
//                        32x32 images (DIR/train and DIR/test or DIR/val), decoded once into
//                        memory. Normalized with CIFAR-10's mean/std; training augmentation:
//                        random crop 32 with padding 4, horizontal flip.
//   imagenet:DIR         ImageFolder DIR/train and DIR/val decoded per sample on the loader's
//                        threads. Evaluation: Resize(256), CenterCrop(224), Normalize(ImageNet);
//                        training: RandomResizedCrop(224), flip, Normalize.
//   folder:DIR           Any ImageFolder with DIR/train and DIR/val (or DIR/test). Images whose
//                        first file has a shorter side >= 64 px get the imagenet: pipeline;
//                        smaller ones are decoded into memory at their own size (all must match)
//                        and normalized with the ImageNet mean/std; training augmentation:
//                        random crop with padding size/8, horizontal flip.
// Train and test class folders must be the same (the error lists the differences).
// DataOptions::mean/std replace the statistics named above in every split's transform.
DataSplits open_data(const std::string& spec, const DataOptions& options);
// Shorthand: augment_train turns on the training transforms; load_train=false skips reading the
// training split (evaluation only).
DataSplits open_data(const std::string& spec, bool augment_train, bool load_train = true);

// Images whose shorter side is at least this get the ImageNet resize/crop pipeline in folder:.
constexpr int64_t kLargeImageSide = 64;

}  // namespace nwq
