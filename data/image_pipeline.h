// ImagePipeline: what happens to a decoded image file before it reaches the model, written as
// the torchvision transforms it reproduces (Resize, CenterCrop, RandomResizedCrop, RandomCrop with
// padding, RandomHorizontalFlip, ToTensor, Normalize), plus the ImageNet presets.
#pragma once
#include <cstdint>
#include <vector>

#include "core/rng.h"
#include "data/image_transforms.h"

namespace nwq {

// ImageNet statistics of x/255 (torchvision's reference training scripts and pretrained models).
constexpr float kImageNetMean[3] = {0.485f, 0.456f, 0.406f};
constexpr float kImageNetStd[3] = {0.229f, 0.224f, 0.225f};

// The steps run in this order; a zero size switches a step off.
struct ImagePipeline {
  int64_t random_resized_crop = 0;  // RandomResizedCrop(n, range): replaces the next two steps
  ResizedCropRange crop_range;
  int64_t resize_shorter = 0;    // Resize(n): shorter side to n, antialiased bilinear
  int64_t center_crop = 0;       // CenterCrop(n)
  int crop_padding = 0;          // RandomCrop(same size, padding=p): black padding, random window
  bool random_flip = false;      // RandomHorizontalFlip(0.5)
  std::vector<float> mean, std;  // ToTensor (x/255) then Normalize(mean, std), one per channel

  // Whether the output size is fixed whatever the input size (a crop or resized crop is set).
  bool fixed_output() const { return random_resized_crop > 0 || center_crop > 0; }
  // Output size for an input of the given size.
  ImageSize output_size(int64_t height, int64_t width) const;
};

// ImageNet evaluation: Resize(256), CenterCrop(224), ToTensor, Normalize(ImageNet mean, std).
ImagePipeline imagenet_eval_pipeline(int64_t resize = 256, int64_t crop = 224);
// ImageNet training: RandomResizedCrop(224), RandomHorizontalFlip, ToTensor, Normalize.
ImagePipeline imagenet_train_pipeline(int64_t crop = 224);

// Runs the pipeline on an 8-bit HWC image with 3 channels (mean.size() channels), writing
// C x H x W floats to dst (H, W = output_size). Random steps draw from `rng` in step order.
void apply_pipeline(const ImagePipeline& pipeline, Image8 image, float* dst, Rng& rng);

}  // namespace nwq
