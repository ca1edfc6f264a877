// Geometry on single images as torchvision does it on PIL images: antialiased bilinear resize
// (PIL's triangle filter in 8-bit fixed point), Resize(n) of the shorter side, CenterCrop, the
// RandomResizedCrop box, flips, and 8-bit HWC -> normalized float CHW. Plus a float CHW resize.
#pragma once
#include <cstdint>
#include <vector>

#include "core/rng.h"

namespace nwq {

// An 8-bit image in HWC order: `height` rows of `width` pixels of `channels` interleaved bytes,
// the layout stb_image decodes to and PIL stores.
struct Image8 {
  int64_t height = 0, width = 0, channels = 0;
  std::vector<uint8_t> pixels;  // height * width * channels bytes
};

// The filter taps of a 1-D resize from in_size samples to out_size samples. Output sample i is
// the sum over k < count[i] of weights[i * taps + k] * input[first[i] + k].
struct ResizeWeights {
  int64_t taps = 0;             // row length of `weights`
  std::vector<int64_t> first;   // out_size first input samples
  std::vector<int64_t> count;   // out_size tap counts (each <= taps)
  std::vector<double> weights;  // out_size * taps; each row sums to 1
};

// PIL's antialiased bilinear filter: a triangle of radius 1 input sample when enlarging, and of
// radius `scale` = in_size / out_size input samples when shrinking (so every input pixel
// contributes: no aliasing). Output sample i is centred on input coordinate (i + 0.5) * scale.
ResizeWeights bilinear_resize_weights(int64_t in_size, int64_t out_size);

// Resizes as PIL's Image.resize(..., BILINEAR) does, bit for bit: weights rounded to 22-bit fixed
// point, a horizontal pass then a vertical pass, each rounding to 8 bits (a pass is skipped when
// its size does not change). torchvision's Resize on PIL images calls exactly this.
Image8 resize_bilinear(const Image8& src, int64_t out_height, int64_t out_width);

// The same filter on a float CHW image (C x H x W into C x out_h x out_w), without PIL's 8-bit
// rounding between and after the passes: it differs from resize_bilinear by at most one 8-bit
// level. dst must not overlap src.
void resize_bilinear_chw(const float* src, int64_t C, int64_t H, int64_t W, float* dst,
                         int64_t out_h, int64_t out_w);

struct ImageSize {
  int64_t height = 0, width = 0;
};

// torchvision's Resize(size) output for an int size: the shorter side becomes `size` and the
// longer one int(size * longer / shorter), truncated. Square images become size x size.
ImageSize shorter_side_size(int64_t height, int64_t width, int64_t size);
// resize_bilinear to shorter_side_size (a copy when the size is already right).
Image8 resize_shorter_side(const Image8& src, int64_t size);

// A rectangle of an image; top/left may be negative and the box may leave the image.
struct CropBox {
  int64_t top = 0, left = 0, height = 0, width = 0;
};

// The box's pixels; where it leaves the image the result is 0 (black), as torchvision's padding.
Image8 crop(const Image8& src, const CropBox& box);

// torchvision's CenterCrop box: offsets round((size - crop) / 2) with Python's round (halves to
// even); when the crop is larger than the image, the image is centred with zero padding, the
// extra pixel of an odd difference going to the bottom/right.
CropBox center_crop_box(int64_t height, int64_t width, int64_t crop_height, int64_t crop_width);
Image8 center_crop(const Image8& src, int64_t crop_height, int64_t crop_width);

// torchvision's RandomResizedCrop defaults: scale (0.08, 1) of the area, aspect ratio (3/4, 4/3)
// drawn log-uniformly, 10 attempts before falling back to a centred crop.
struct ResizedCropRange {
  double scale_min = 0.08, scale_max = 1.0;
  double ratio_min = 3.0 / 4.0, ratio_max = 4.0 / 3.0;
  int attempts = 10;
};

// RandomResizedCrop.get_params: up to `attempts` draws of (area fraction, log aspect ratio);
// the first whose rounded box fits is placed uniformly at random. Otherwise the largest centred
// box whose aspect ratio is within range. Same algorithm as torchvision; the random numbers come
// from `rng`, so the boxes themselves differ from torch's.
CropBox random_resized_crop_box(int64_t height, int64_t width, const ResizedCropRange& range,
                                Rng& rng);

// Mirrors each row in place (left becomes right).
void flip_horizontal(Image8& image);

// dst (channels x height x width floats) = (src / 255 - mean[c]) / stddev[c], the float
// operations of torchvision's ToTensor then Normalize. mean and stddev hold `channels` values.
void image_to_chw_normalized(const Image8& src, const float* mean, const float* stddev, float* dst);

}  // namespace nwq
