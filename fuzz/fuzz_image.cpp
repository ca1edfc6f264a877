// libFuzzer target: image files as the ImageFolder readers see them: the header scan
// (read_image_header, data/image_check.h) and decode_image_rgb, on the bytes as a tmpfs file.
#include <algorithm>
#include <cstring>

#include "data/image_check.h"
#include "data/image_folder.h"
#include "fuzz/fuzz_util.h"

namespace {

// True for a PNG with an empty IDAT chunk: stb_image 2.27 then calls memcpy(NULL, src, 0)
// (UB without any memory access; finding image-png-empty-idat-memcpy-null, left as is).
bool png_empty_idat(const uint8_t* data, size_t size) {
  static const uint8_t kEmptyIdat[8] = {0, 0, 0, 0, 'I', 'D', 'A', 'T'};
  if (size < 8 || std::memcmp(data, "\x89PNG", 4) != 0) return false;
  return std::search(data, data + size, kEmptyIdat, kEmptyIdat + 8) != data + size;
}

}  // namespace

// Every other stb_image 2.27 finding (docs/RELIABILITY.md) is now refused by data/image_check
// before stb sees the bytes, so nothing else is stepped around; NWQ_FUZZ_KNOWN=1 replays S8 too.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static nwq_fuzz::ScratchFile file("image");  // the readers take paths
  if (!nwq_fuzz::replay_known() && png_empty_idat(data, size)) return 0;
  const std::string& path = file.write(data, size);
  int w = 0, h = 0;
  std::string why;
  const bool header_ok = nwq::read_image_header(path, w, h, why);
  if (header_ok && (w <= 0 || h <= 0 || int64_t{w} * h > nwq::kMaxImagePixels)) std::abort();
  nwq_fuzz::expect_error_or_success([&] {
    const nwq::Image8 image = nwq::decode_image_rgb(path);
    // The wrapper promises non-empty 8-bit RGB of height x width within the pixel limit.
    if (image.channels != 3 || image.height <= 0 || image.width <= 0 ||
        image.height * image.width > nwq::kMaxImagePixels ||
        image.pixels.size() != static_cast<size_t>(image.height * image.width * 3))
      std::abort();
  });
  return 0;
}
