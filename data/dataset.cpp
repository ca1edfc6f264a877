// InMemoryImageDataset: uint8 CHW images held in memory, transformed on access.
#include "data/dataset.h"

#include <vector>

#include "core/error.h"
#include "data/transforms.h"

namespace nwq {

InMemoryImageDataset::InMemoryImageDataset(ImageDataset data, ImageTransform transform)
    : data_(std::move(data)), transform_(std::move(transform)) {
  NWQ_CHECK(static_cast<int64_t>(transform_.mean.size()) == data_.channels &&
                transform_.std.size() == transform_.mean.size(),
            "dataset transform: mean/std need ", data_.channels, " values, got ",
            transform_.mean.size(), "/", transform_.std.size());
}

std::vector<int64_t> InMemoryImageDataset::sample_shape() const {
  return {data_.channels, data_.height, data_.width};
}

int64_t InMemoryImageDataset::label(int64_t index) const {
  NWQ_CHECK(index >= 0 && index < data_.count, "dataset: index ", index, " out of range (size ",
            data_.count, ")");
  return data_.labels[index];
}

void InMemoryImageDataset::get(int64_t index, float* dst, Rng& rng) const {
  label(index);  // range check
  int64_t C = data_.channels, H = data_.height, W = data_.width;
  const uint8_t* src = data_.pixels.data() + index * C * H * W;
  if (transform_.crop_padding == 0) {
    to_float_normalized(src, dst, C, H, W, transform_.mean.data(), transform_.std.data());
    if (transform_.random_flip) maybe_flip(dst, C, H, W, rng);
    return;
  }
  // As torchvision: pad with black (0 before normalizing), crop, flip, then normalize.
  std::vector<float> zeros(C, 0.0f), ones(C, 1.0f), plain(C * H * W);
  to_float_normalized(src, plain.data(), C, H, W, zeros.data(), ones.data());
  random_crop_with_padding(plain.data(), dst, C, H, W, transform_.crop_padding, rng);
  if (transform_.random_flip) maybe_flip(dst, C, H, W, rng);
  for (int64_t c = 0; c < C; ++c) {
    float* p = dst + c * H * W;
    for (int64_t i = 0; i < H * W; ++i) p[i] = (p[i] - transform_.mean[c]) / transform_.std[c];
  }
}

ImageTransform fashion_mnist_transform(bool augment) {
  ImageTransform t;
  t.mean = {0.2860f};
  t.std = {0.3530f};
  if (augment) {
    t.crop_padding = 2;
    t.random_flip = true;
  }
  return t;
}

}  // namespace nwq
