// Image transforms for training-time augmentation and input normalization. Each works on one
// image in CHW layout; batching and threading are the data loader's job.
#include "data/transforms.h"

#include <algorithm>

#include "core/error.h"

namespace nwq {

void to_float_normalized(const uint8_t* src, float* dst, int64_t C, int64_t H, int64_t W,
                         const float* mean, const float* stddev) {
  const int64_t plane = H * W;
  for (int64_t c = 0; c < C; ++c) {
    NWQ_CHECK(stddev[c] != 0.0f, "to_float_normalized: stddev of channel ", c, " is zero");
    for (int64_t i = 0; i < plane; ++i) {
      const float scaled = static_cast<float>(src[c * plane + i]) / 255.0f;
      dst[c * plane + i] = (scaled - mean[c]) / stddev[c];
    }
  }
}

void crop_with_offset(const float* src, float* dst, int64_t C, int64_t H, int64_t W, int pad,
                      int dy, int dx) {
  NWQ_CHECK(pad >= 0, "crop_with_offset: pad must be non-negative, got ", pad);
  NWQ_CHECK(dy >= 0 && dy <= 2 * pad && dx >= 0 && dx <= 2 * pad, "crop_with_offset: offset (",
            dy, ", ", dx, ") outside [0, ", 2 * pad, "]");
  // Output (y, x) reads padded (y + dy, x + dx), which is source (y + dy - pad, x + dx - pad).
  const int64_t shift_y = dy - pad, shift_x = dx - pad;
  // Output columns whose source column lies inside the image; the rest are padding zeros.
  const int64_t x_begin = std::clamp<int64_t>(-shift_x, 0, W);
  const int64_t x_end = std::clamp<int64_t>(W - shift_x, 0, W);
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t y = 0; y < H; ++y) {
      float* out_row = dst + (c * H + y) * W;
      const int64_t src_y = y + shift_y;
      if (src_y < 0 || src_y >= H) {
        std::fill(out_row, out_row + W, 0.0f);
        continue;
      }
      const float* src_row = src + (c * H + src_y) * W;
      std::fill(out_row, out_row + x_begin, 0.0f);
      if (x_begin < x_end)
        std::copy(src_row + x_begin + shift_x, src_row + x_end + shift_x, out_row + x_begin);
      std::fill(out_row + x_end, out_row + W, 0.0f);
    }
  }
}

void random_crop_with_padding(const float* src, float* dst, int64_t C, int64_t H, int64_t W,
                              int pad, Rng& rng) {
  NWQ_CHECK(pad >= 0, "random_crop_with_padding: pad must be non-negative, got ", pad);
  const int dy = static_cast<int>(rng.randint(2 * int64_t{pad} + 1));
  const int dx = static_cast<int>(rng.randint(2 * int64_t{pad} + 1));
  crop_with_offset(src, dst, C, H, W, pad, dy, dx);
}

void horizontal_flip(float* img, int64_t C, int64_t H, int64_t W) {
  for (int64_t row = 0; row < C * H; ++row) std::reverse(img + row * W, img + (row + 1) * W);
}

bool maybe_flip(float* img, int64_t C, int64_t H, int64_t W, Rng& rng) {
  const bool flip = rng.bernoulli(0.5);
  if (flip) horizontal_flip(img, C, H, W);
  return flip;
}

}  // namespace nwq
