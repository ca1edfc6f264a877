// The Dataset interface the loaders read from, and an in-memory image dataset with the usual
// training transforms (random crop with zero padding, horizontal flip) and normalization.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/rng.h"
#include "data/image_dataset.h"

namespace nwq {

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual std::vector<int64_t> sample_shape() const = 0;  // C, H, W after transforms
  virtual int64_t label(int64_t index) const = 0;
  virtual int num_classes() const = 0;
  // Writes sample `index` after transforms into dst (C*H*W floats). `rng` is this sample's own
  // stream (the loader derives it from seed, epoch and index), so results never depend on
  // which thread ran the call.
  virtual void get(int64_t index, float* dst, Rng& rng) const = 0;
};

struct ImageTransform {
  int crop_padding = 0;      // random crop with this zero padding (0: no crop)
  bool random_flip = false;  // horizontal flip with probability 0.5
  std::vector<float> mean, std;  // per channel; applied after x/255
};

class InMemoryImageDataset : public Dataset {
 public:
  InMemoryImageDataset(ImageDataset data, ImageTransform transform);
  int64_t size() const override { return data_.count; }
  std::vector<int64_t> sample_shape() const override;
  int64_t label(int64_t index) const override;
  int num_classes() const override { return data_.num_classes; }
  void get(int64_t index, float* dst, Rng& rng) const override;
  const ImageDataset& data() const { return data_; }

 private:
  ImageDataset data_;
  ImageTransform transform_;
};

// Fashion-MNIST mean and std of x/255 over the training split.
ImageTransform fashion_mnist_transform(bool augment);

}  // namespace nwq
