// Per-image transforms on plain CHW buffers: byte-to-float normalization, random crop with zero
// padding and horizontal flip. Random choices come from a caller's Rng, so loaders stay seeded.
#pragma once
#include <cstdint>

#include "core/rng.h"

namespace nwq {

// Mean and standard deviation of the Fashion-MNIST training pixels after scaling to [0, 1]
// (computed over all 60,000 x 28 x 28 training pixels; the values every tutorial uses).
constexpr float kFashionMnistMean = 0.2860f;
constexpr float kFashionMnistStd = 0.3530f;

// dst = (src / 255 - mean[c]) / stddev[c] for each of the C*H*W values, in that order of float
// operations (as torchvision's ToTensor then Normalize). mean and stddev hold C values each.
void to_float_normalized(const uint8_t* src, float* dst, int64_t C, int64_t H, int64_t W,
                         const float* mean, const float* stddev);

// Pads src (C x H x W) with `pad` zeros on every side and copies the H x W window whose top-left
// corner is at (dy, dx) of the padded image into dst. dy, dx in [0, 2*pad]; (pad, pad) is the
// unshifted image. dst must not overlap src.
void crop_with_offset(const float* src, float* dst, int64_t C, int64_t H, int64_t W, int pad,
                      int dy, int dx);

// crop_with_offset with dy then dx drawn uniformly from [0, 2*pad].
void random_crop_with_padding(const float* src, float* dst, int64_t C, int64_t H, int64_t W,
                              int pad, Rng& rng);

// Mirrors each row in place (left becomes right).
void horizontal_flip(float* img, int64_t C, int64_t H, int64_t W);

// Flips with probability 0.5; returns whether it flipped.
bool maybe_flip(float* img, int64_t C, int64_t H, int64_t W, Rng& rng);

}  // namespace nwq
