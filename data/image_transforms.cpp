// Image geometry for the data pipelines. The resize follows PIL's two-pass separable resampling
// (per-output filter weights, horizontal pass first, 22-bit fixed point with 8-bit rounding per
// pass) so that our ImageNet preprocessing gives the same bytes as torchvision's.
#include "data/image_transforms.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"

namespace nwq {
namespace {

// PIL keeps 8 bits for the pixel value and 2 bits of headroom in an int32 accumulator.
constexpr int kFixedBits = 22;

double triangle(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// Weights rounded to fixed point, half away from zero (as PIL does).
std::vector<int32_t> to_fixed_point(const std::vector<double>& weights) {
  std::vector<int32_t> fixed(weights.size());
  const double one = static_cast<double>(1 << kFixedBits);
  for (size_t i = 0; i < weights.size(); ++i) {
    const double w = weights[i] * one;
    fixed[i] = static_cast<int32_t>(w < 0 ? w - 0.5 : w + 0.5);
  }
  return fixed;
}

// An accumulated fixed-point sum (which started at one half) back to a byte, clamped.
uint8_t fixed_to_byte(int32_t sum) {
  if (sum <= 0) return 0;
  return static_cast<uint8_t>(std::min<int32_t>(sum >> kFixedBits, 255));
}

// Resizes each row from src.width to out_width pixels. C, the channel count, is a template
// argument so the compiler unrolls the per-channel sums. Sums are int32 as in PIL: at most
// 2^21 + 255 * (2^22 + taps / 2), well inside the range.
template <int C>
void resize_rows(const Image8& src, const ResizeWeights& rw, const std::vector<int32_t>& fixed,
                 Image8& out) {
  for (int64_t y = 0; y < src.height; ++y) {
    const uint8_t* in_row = src.pixels.data() + y * src.width * C;
    uint8_t* out_row = out.pixels.data() + y * out.width * C;
    for (int64_t x = 0; x < out.width; ++x) {
      const int32_t* w = fixed.data() + x * rw.taps;
      const uint8_t* in = in_row + rw.first[x] * C;
      int32_t sum[C];
      for (int c = 0; c < C; ++c) sum[c] = 1 << (kFixedBits - 1);
      for (int64_t k = 0; k < rw.count[x]; ++k)
        for (int c = 0; c < C; ++c) sum[c] += int32_t{in[k * C + c]} * w[k];
      for (int c = 0; c < C; ++c) out_row[x * C + c] = fixed_to_byte(sum[c]);
    }
  }
}

Image8 resize_rows(const Image8& src, int64_t out_width) {
  const ResizeWeights rw = bilinear_resize_weights(src.width, out_width);
  const std::vector<int32_t> fixed = to_fixed_point(rw.weights);
  Image8 out{src.height, out_width, src.channels,
             std::vector<uint8_t>(src.height * out_width * src.channels)};
  switch (src.channels) {
    case 1: resize_rows<1>(src, rw, fixed, out); break;
    case 2: resize_rows<2>(src, rw, fixed, out); break;
    case 3: resize_rows<3>(src, rw, fixed, out); break;
    default: resize_rows<4>(src, rw, fixed, out); break;
  }
  return out;
}

// Resizes each column from src.height to out_height pixels: whole rows are weighted and added
// into a row of int32 sums, which keeps memory access sequential.
Image8 resize_columns(const Image8& src, int64_t out_height) {
  const ResizeWeights rw = bilinear_resize_weights(src.height, out_height);
  const std::vector<int32_t> fixed = to_fixed_point(rw.weights);
  const int64_t row_bytes = src.width * src.channels;
  Image8 out{out_height, src.width, src.channels, std::vector<uint8_t>(out_height * row_bytes)};
  std::vector<int32_t> sums(row_bytes);
  for (int64_t y = 0; y < out_height; ++y) {
    std::fill(sums.begin(), sums.end(), 1 << (kFixedBits - 1));
    for (int64_t k = 0; k < rw.count[y]; ++k) {
      const int32_t w = fixed[y * rw.taps + k];
      const uint8_t* in = src.pixels.data() + (rw.first[y] + k) * row_bytes;
      for (int64_t i = 0; i < row_bytes; ++i) sums[i] += int32_t{in[i]} * w;
    }
    uint8_t* out_row = out.pixels.data() + y * row_bytes;
    for (int64_t i = 0; i < row_bytes; ++i) out_row[i] = fixed_to_byte(sums[i]);
  }
  return out;
}

// One float pass: `lines` lines of `in_len` samples, `stride` apart within a line, resampled to
// `out_len` samples. Line k starts at src + k * line_step_in and dst + k * line_step_out.
void resample_lines(const float* src, float* dst, int64_t lines, int64_t line_step_in,
                    int64_t line_step_out, int64_t stride, int64_t in_len, int64_t out_len) {
  const ResizeWeights rw = bilinear_resize_weights(in_len, out_len);
  for (int64_t line = 0; line < lines; ++line) {
    const float* in = src + line * line_step_in;
    float* out = dst + line * line_step_out;
    for (int64_t i = 0; i < out_len; ++i) {
      const double* w = rw.weights.data() + i * rw.taps;
      double sum = 0.0;
      for (int64_t k = 0; k < rw.count[i]; ++k) sum += w[k] * in[(rw.first[i] + k) * stride];
      out[i * stride] = static_cast<float>(sum);
    }
  }
}

}  // namespace

ResizeWeights bilinear_resize_weights(int64_t in_size, int64_t out_size) {
  NWQ_CHECK(in_size > 0 && out_size > 0, "resize: sizes must be positive, got ", in_size, " -> ",
            out_size);
  const double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
  const double filter_scale = std::max(scale, 1.0);  // widen the triangle only when shrinking
  const double support = filter_scale;               // triangle radius in input samples
  const double inv_filter_scale = 1.0 / filter_scale;
  ResizeWeights rw;
  rw.taps = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  rw.first.resize(out_size);
  rw.count.resize(out_size);
  rw.weights.assign(out_size * rw.taps, 0.0);
  for (int64_t i = 0; i < out_size; ++i) {
    const double center = (static_cast<double>(i) + 0.5) * scale;
    // Truncation toward zero, then clamping, as PIL computes the window.
    const int64_t lo = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
    const int64_t hi = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), in_size);
    double* w = rw.weights.data() + i * rw.taps;
    double total = 0.0;
    for (int64_t k = 0; k < hi - lo; ++k) {
      // Distance from the output centre to input sample lo + k's centre, in filter units.
      w[k] = triangle((static_cast<double>(lo + k) - center + 0.5) * inv_filter_scale);
      total += w[k];
    }
    for (int64_t k = 0; k < hi - lo && total != 0.0; ++k) w[k] /= total;
    rw.first[i] = lo;
    rw.count[i] = hi - lo;
  }
  return rw;
}

Image8 resize_bilinear(const Image8& src, int64_t out_height, int64_t out_width) {
  NWQ_CHECK(src.height > 0 && src.width > 0 && src.channels > 0 && src.channels <= 4,
            "resize: need a non-empty image of 1 to 4 channels, got ", src.height, "x", src.width,
            "x", src.channels);
  NWQ_CHECK(out_height > 0 && out_width > 0, "resize: output size must be positive, got ",
            out_height, "x", out_width);
  if (out_width == src.width && out_height == src.height) return src;
  if (out_width == src.width) return resize_columns(src, out_height);
  Image8 rows_done = resize_rows(src, out_width);
  if (out_height == src.height) return rows_done;
  return resize_columns(rows_done, out_height);
}

void resize_bilinear_chw(const float* src, int64_t C, int64_t H, int64_t W, float* dst,
                         int64_t out_h, int64_t out_w) {
  NWQ_CHECK(C > 0 && H > 0 && W > 0 && out_h > 0 && out_w > 0, "resize_bilinear_chw: bad sizes ", C,
            "x", H, "x", W, " -> ", out_h, "x", out_w);
  std::vector<float> rows_done(C * H * out_w);  // horizontal pass: C*H lines of W -> out_w
  resample_lines(src, rows_done.data(), C * H, W, out_w, 1, W, out_w);
  for (int64_t c = 0; c < C; ++c) {  // vertical pass: out_w columns of H -> out_h per channel
    resample_lines(rows_done.data() + c * H * out_w, dst + c * out_h * out_w, out_w, 1, 1, out_w, H,
                   out_h);
  }
}

ImageSize shorter_side_size(int64_t height, int64_t width, int64_t size) {
  NWQ_CHECK(height > 0 && width > 0 && size > 0, "resize: bad sizes ", height, "x", width,
            " to shorter side ", size);
  const int64_t shorter = std::min(height, width), longer = std::max(height, width);
  // Python's int(size * longer / shorter): a correctly rounded double quotient, truncated.
  const int64_t new_longer =
      static_cast<int64_t>(static_cast<double>(size * longer) / static_cast<double>(shorter));
  if (width <= height) return {new_longer, size};
  return {size, new_longer};
}

Image8 resize_shorter_side(const Image8& src, int64_t size) {
  const ImageSize out = shorter_side_size(src.height, src.width, size);
  return resize_bilinear(src, out.height, out.width);
}

Image8 crop(const Image8& src, const CropBox& box) {
  NWQ_CHECK(box.height > 0 && box.width > 0, "crop: box size must be positive, got ", box.height,
            "x", box.width);
  const int64_t C = src.channels;
  Image8 out{box.height, box.width, C, std::vector<uint8_t>(box.height * box.width * C, 0)};
  const int64_t x_begin = std::max<int64_t>(box.left, 0);
  const int64_t x_end = std::min<int64_t>(box.left + box.width, src.width);
  if (x_begin >= x_end) return out;
  for (int64_t y = 0; y < box.height; ++y) {
    const int64_t src_y = box.top + y;
    if (src_y < 0 || src_y >= src.height) continue;
    std::memcpy(out.pixels.data() + (y * box.width + (x_begin - box.left)) * C,
                src.pixels.data() + (src_y * src.width + x_begin) * C, (x_end - x_begin) * C);
  }
  return out;
}

CropBox center_crop_box(int64_t height, int64_t width, int64_t crop_height, int64_t crop_width) {
  NWQ_CHECK(crop_height > 0 && crop_width > 0, "center crop: size must be positive, got ",
            crop_height, "x", crop_width);
  // Python's round() sends halves to the even neighbour; so does nearbyint by default.
  auto offset = [](int64_t size, int64_t crop_size) -> int64_t {
    if (crop_size > size) return -((crop_size - size) / 2);  // centred in zero padding
    return static_cast<int64_t>(std::nearbyint(static_cast<double>(size - crop_size) / 2.0));
  };
  return {offset(height, crop_height), offset(width, crop_width), crop_height, crop_width};
}

Image8 center_crop(const Image8& src, int64_t crop_height, int64_t crop_width) {
  return crop(src, center_crop_box(src.height, src.width, crop_height, crop_width));
}

CropBox random_resized_crop_box(int64_t height, int64_t width, const ResizedCropRange& range,
                                Rng& rng) {
  NWQ_CHECK(height > 0 && width > 0, "random resized crop: empty image");
  NWQ_CHECK(range.scale_min <= range.scale_max && range.ratio_min <= range.ratio_max &&
                range.ratio_min > 0,
            "random resized crop: scale and ratio ranges must be (min, max) with positive ratios");
  auto uniform = [&rng](double lo, double hi) { return lo + (hi - lo) * rng.uniform_f64(); };
  const double area = static_cast<double>(height * width);
  const double log_lo = std::log(range.ratio_min), log_hi = std::log(range.ratio_max);
  for (int attempt = 0; attempt < range.attempts; ++attempt) {
    const double target_area = area * uniform(range.scale_min, range.scale_max);
    const double aspect = std::exp(uniform(log_lo, log_hi));
    const auto w = static_cast<int64_t>(std::nearbyint(std::sqrt(target_area * aspect)));
    const auto h = static_cast<int64_t>(std::nearbyint(std::sqrt(target_area / aspect)));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const int64_t top = rng.randint(height - h + 1);
      const int64_t left = rng.randint(width - w + 1);
      return {top, left, h, w};
    }
  }
  // Fallback: the whole image, trimmed to the nearest allowed aspect ratio, centred.
  const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
  int64_t w = width, h = height;
  if (in_ratio < range.ratio_min) {
    h = static_cast<int64_t>(std::nearbyint(static_cast<double>(w) / range.ratio_min));
  } else if (in_ratio > range.ratio_max) {
    w = static_cast<int64_t>(std::nearbyint(static_cast<double>(h) * range.ratio_max));
  }
  return {(height - h) / 2, (width - w) / 2, h, w};
}

void flip_horizontal(Image8& image) {
  const int64_t C = image.channels;
  for (int64_t y = 0; y < image.height; ++y) {
    uint8_t* row = image.pixels.data() + y * image.width * C;
    for (int64_t left = 0, right = image.width - 1; left < right; ++left, --right) {
      for (int64_t c = 0; c < C; ++c) std::swap(row[left * C + c], row[right * C + c]);
    }
  }
}

void image_to_chw_normalized(const Image8& src, const float* mean, const float* stddev,
                             float* dst) {
  const int64_t C = src.channels, plane = src.height * src.width;
  for (int64_t c = 0; c < C; ++c) {
    NWQ_CHECK(stddev[c] != 0.0f, "normalize: stddev of channel ", c, " is zero");
    float* out = dst + c * plane;
    for (int64_t i = 0; i < plane; ++i) {
      const float scaled = static_cast<float>(src.pixels[i * C + c]) / 255.0f;
      out[i] = (scaled - mean[c]) / stddev[c];
    }
  }
}

}  // namespace nwq
