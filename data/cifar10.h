// CIFAR-10 (Krizhevsky 2009): 60,000 colour 32x32 images in 10 classes, read from the official
// binary batches (data_batch_1..5.bin, test_batch.bin), and CIFAR-10's normalization constants.
#pragma once
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/image_dataset.h"

namespace nwq {

// Each record of a batch file: 1 label byte (0..9), then 3072 pixel bytes: the 1024 red values
// of the 32x32 image row by row, then green, then blue (CHW, as ImageDataset stores them).
constexpr int64_t kCifar10RecordBytes = 1 + 3 * 32 * 32;

// Mean and std of x/255 over the training images (the values of most CIFAR training scripts).
constexpr float kCifar10Mean[3] = {0.4914f, 0.4822f, 0.4465f};
constexpr float kCifar10Std[3] = {0.2470f, 0.2435f, 0.2616f};

// airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck (label order).
const std::vector<std::string>& cifar10_class_names();

// Reads and concatenates batch files. Errors name the file: missing, empty, a size that is not a
// whole number of 3073-byte records (with a hint when it looks like CIFAR-100's 3074), a label
// above 9.
ImageDataset read_cifar10_batches(const std::vector<std::string>& paths);

// The folder holding the batch files: `dir` itself when it has data_batch_1.bin or
// test_batch.bin, else dir/cifar-10-batches-bin when that has them, else "".
std::string find_cifar10_binary_dir(const std::string& dir);

// Split "train" (data_batch_1..5.bin, 50,000 images) or "test" (test_batch.bin, 10,000) of the
// batch folder `dir`. Class names come from batches.meta.txt when present.
ImageDataset load_cifar10_binary(const std::string& dir, const std::string& split);

// Normalization with the CIFAR-10 statistics; augment adds RandomCrop(32, padding=4) and
// RandomHorizontalFlip.
ImageTransform cifar10_transform(bool augment);

}  // namespace nwq
