// ImagePipeline steps and presets. Geometry stays in 8 bits until the last step, as in
// torchvision's PIL path, so evaluation inputs match torchvision's byte for byte.
#include "data/image_pipeline.h"

#include "core/error.h"

namespace nwq {

ImageSize ImagePipeline::output_size(int64_t height, int64_t width) const {
  if (random_resized_crop > 0) return {random_resized_crop, random_resized_crop};
  if (center_crop > 0) return {center_crop, center_crop};
  if (resize_shorter > 0) return shorter_side_size(height, width, resize_shorter);
  return {height, width};  // a padded random crop keeps the size
}

ImagePipeline imagenet_eval_pipeline(int64_t resize, int64_t crop) {
  ImagePipeline p;
  p.resize_shorter = resize;
  p.center_crop = crop;
  p.mean.assign(kImageNetMean, kImageNetMean + 3);
  p.std.assign(kImageNetStd, kImageNetStd + 3);
  return p;
}

ImagePipeline imagenet_train_pipeline(int64_t crop) {
  ImagePipeline p;
  p.random_resized_crop = crop;
  p.random_flip = true;
  p.mean.assign(kImageNetMean, kImageNetMean + 3);
  p.std.assign(kImageNetStd, kImageNetStd + 3);
  return p;
}

void apply_pipeline(const ImagePipeline& pipeline, Image8 image, float* dst, Rng& rng) {
  NWQ_CHECK(static_cast<int64_t>(pipeline.mean.size()) == image.channels &&
                pipeline.std.size() == pipeline.mean.size(),
            "image pipeline: mean/std need ", image.channels, " values, got ", pipeline.mean.size(),
            "/", pipeline.std.size());
  if (pipeline.random_resized_crop > 0) {
    const CropBox box =
        random_resized_crop_box(image.height, image.width, pipeline.crop_range, rng);
    const int64_t n = pipeline.random_resized_crop;
    image = resize_bilinear(crop(image, box), n, n);
  } else {
    if (pipeline.resize_shorter > 0) image = resize_shorter_side(image, pipeline.resize_shorter);
    if (pipeline.center_crop > 0)
      image = center_crop(image, pipeline.center_crop, pipeline.center_crop);
  }
  if (pipeline.crop_padding > 0) {
    // RandomCrop(size, padding=p): the window's top-left corner in the padded image is uniform
    // in [0, 2p]^2, drawn top first (as torchvision draws i before j).
    const int64_t pad = pipeline.crop_padding;
    const int64_t dy = rng.randint(2 * pad + 1), dx = rng.randint(2 * pad + 1);
    image = crop(image, {dy - pad, dx - pad, image.height, image.width});
  }
  if (pipeline.random_flip && rng.bernoulli(0.5)) flip_horizontal(image);
  image_to_chw_normalized(image, pipeline.mean.data(), pipeline.std.data(), dst);
}

}  // namespace nwq
