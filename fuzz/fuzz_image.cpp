// libFuzzer target: image decoding of the ImageFolder readers: decode_image_rgb (data/image_folder.h,
// stb_image) and the stbi_info header check scan_image_folder does, on the bytes as a tmpfs file.
#include <stb/stb_image.h>

#include <algorithm>
#include <cstring>

#include "data/image_folder.h"
#include "fuzz/fuzz_util.h"

namespace {

// True when a JPEG's DHT segment (FF C4) holds a table of more than 256 codes: stb_image 2.27
// writes past stbi__huffman::size[257] for it (known finding image-jpeg-huffman-overflow).
// Scans every FF C4 pair of any input (stb also finds a JPEG after 0xFF fill bytes), so it may
// skip a few harmless inputs too.
bool jpeg_huffman_over_256(const uint8_t* data, size_t size) {
  for (size_t i = 0; i + 4 < size; ++i) {
    if (data[i] != 0xFF || data[i + 1] != 0xC4) continue;
    // stb reads a table's 17 header bytes even past the segment's stated end.
    const size_t end = std::min(size, i + 2 + (size_t{data[i + 2]} << 8 | data[i + 3]));
    for (size_t t = i + 4; t < size && (t == i + 4 || t < end);) {
      size_t codes = 0;
      for (size_t k = 1; k <= 16 && t + k < size; ++k) codes += data[t + k];
      if (codes > 256) return true;
      t += 17 + codes;
    }
  }
  return false;
}

// True when a binary PGM/PPM header holds a number of 10 or more digits: stb_image 2.27 parses
// it into an int with signed overflow (known finding image-pnm-integer-overflow).
bool pnm_number_over_9_digits(const uint8_t* data, size_t size) {
  if (size < 2 || data[0] != 'P' || (data[1] != '5' && data[1] != '6')) return false;
  int digits = 0;
  for (size_t i = 2; i < size && i < 256; ++i) {
    digits = (data[i] >= '0' && data[i] <= '9') ? digits + 1 : 0;
    if (digits >= 10) return true;
  }
  return false;
}

// True for a PNG with an empty IDAT chunk: stb_image 2.27 then calls memcpy(NULL, src, 0)
// (UB, harmless in practice; known finding image-png-empty-idat-memcpy-null).
bool png_empty_idat(const uint8_t* data, size_t size) {
  static const uint8_t kEmptyIdat[8] = {0, 0, 0, 0, 'I', 'D', 'A', 'T'};
  if (size < 8 || std::memcmp(data, "\x89PNG", 4) != 0) return false;
  return std::search(data, data + size, kEmptyIdat, kEmptyIdat + 8) != data + size;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static nwq_fuzz::ScratchFile file("image");  // decode_image_rgb only takes a path
  const bool known = nwq_fuzz::replay_known();
  // Inputs that hit the known stb_image 2.27 bugs listed in docs/RELIABILITY.md are stepped
  // around (unless NWQ_FUZZ_KNOWN is set), so that fuzzing can look for new ones.
  if (!known && (jpeg_huffman_over_256(data, size) || pnm_number_over_9_digits(data, size) ||
                 png_empty_idat(data, size)))
    return 0;
  const std::string& path = file.write(data, size);
  int w = 0, h = 0, channels = 0;
  const bool header_ok = stbi_info(path.c_str(), &w, &h, &channels) != 0;
  const bool binary_pnm = size >= 2 && data[0] == 'P' && (data[1] == '5' || data[1] == '6');
  // image-ppm-header-2gb: nothing caps the size a header claims (stb allows 2^31 bytes), so a
  // 20-byte file costs 4 GB. Stepped around above 2^20 pixels, which also keeps runs fast.
  if (!known && header_ok && int64_t{w} * h > (int64_t{1} << 20)) return 0;
  // image-pgm16-*: a 16-bit PGM goes through stb's 8-bit channel converter (heap overflow).
  if (!known && binary_pnm && header_ok && channels == 1 && stbi_is_16_bit(path.c_str())) return 0;
  // image-pgm-zero-height, image-hdr-zero-width: stb decodes a PGM/PPM or HDR header with a
  // zero width or height into an empty image.
  const bool allow_empty = !known;
  nwq_fuzz::expect_error_or_success([&] {
    const nwq::Image8 image = nwq::decode_image_rgb(path);
    // The wrapper promises 8-bit RGB of height x width.
    if (image.channels != 3 || image.height < 0 || image.width < 0 ||
        image.pixels.size() != static_cast<size_t>(image.height * image.width * 3))
      std::abort();
    if ((image.height == 0 || image.width == 0) && !allow_empty) std::abort();
    // image-ppm-truncated-uninitialized: stb decodes a binary PGM/PPM whose pixel data is
    // missing, leaving the pixels uninitialized. Checked only when replaying known findings.
    if (known && binary_pnm && header_ok &&
        size < static_cast<size_t>(w) * static_cast<size_t>(h) * static_cast<size_t>(channels)) {
      std::fprintf(stderr, "nwq-fuzz: %dx%dx%d PNM decoded from %zu bytes\n", w, h, channels, size);
      std::abort();
    }
  });
  return 0;
}
