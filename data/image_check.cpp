// Pre-checks of image files for the formats nwq reads through stb_image (see image_check.h).
#include "data/image_check.h"

#include <stb/stb_image.h>

#include <cctype>

#include "core/error.h"

namespace nwq {

namespace {

bool starts_with(const std::vector<uint8_t>& b, std::initializer_list<uint8_t> magic) {
  if (b.size() < magic.size()) return false;
  size_t i = 0;
  for (uint8_t m : magic)
    if (b[i++] != m) return false;
  return true;
}

// Walks the JPEG segments up to the start of scan; every DHT table must declare <= 256 codes
// and fit in its segment.
void check_jpeg(const std::vector<uint8_t>& b, const std::string& label) {
  size_t pos = 2;
  while (pos + 4 <= b.size()) {
    NWQ_CHECK(b[pos] == 0xFF, label, ": broken JPEG (no marker at byte ", pos, ")");
    const uint8_t marker = b[pos + 1];
    if (marker == 0xFF) { ++pos; continue; }  // fill byte
    if (marker == 0xDA || marker == 0xD9) return;  // start of scan / end of image
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) { pos += 2; continue; }
    const size_t len = size_t(b[pos + 2]) << 8 | b[pos + 3];
    NWQ_CHECK(len >= 2 && pos + 2 + len <= b.size(), label, ": broken JPEG (segment at byte ", pos,
              " runs past the end)");
    if (marker == 0xC4) {
      size_t t = pos + 4;
      const size_t end = pos + 2 + len;
      while (t < end) {
        NWQ_CHECK(t + 17 <= end, label, ": broken JPEG Huffman table at byte ", t);
        size_t codes = 0;
        for (int k = 1; k <= 16; ++k) codes += b[t + k];
        NWQ_CHECK(codes <= 256 && t + 17 + codes <= end, label,
                  ": broken JPEG Huffman table at byte ", t, " (", codes, " codes)");
        t += 17 + codes;
      }
    }
    pos += 2 + len;
  }
}

// Reads one header number of a binary PNM, skipping whitespace and comments.
int64_t pnm_number(const std::vector<uint8_t>& b, size_t& pos, const std::string& label) {
  while (pos < b.size() && (std::isspace(b[pos]) || b[pos] == '#')) {
    if (b[pos] == '#')
      while (pos < b.size() && b[pos] != '\n') ++pos;
    else
      ++pos;
  }
  int64_t v = 0;
  const size_t start = pos;
  while (pos < b.size() && std::isdigit(b[pos]) && pos - start < 9) v = v * 10 + (b[pos++] - '0');
  NWQ_CHECK(pos > start && (pos >= b.size() || !std::isdigit(b[pos])), label,
            ": broken PPM/PGM header (a number is missing or too long)");
  return v;
}

void check_pnm(const std::vector<uint8_t>& b, const std::string& label) {
  const int64_t channels = b[1] == '6' ? 3 : 1;
  size_t pos = 2;
  const int64_t w = pnm_number(b, pos, label), h = pnm_number(b, pos, label);
  const int64_t maxval = pnm_number(b, pos, label);
  check_image_size(w, h, label);
  NWQ_CHECK(maxval >= 1 && maxval <= 255, label, ": PPM/PGM maxval ", maxval,
            " (only 8-bit files are read)");
  ++pos;  // the single whitespace byte before the pixels
  NWQ_CHECK(pos <= b.size() && int64_t(b.size() - pos) >= w * h * channels, label,
            ": truncated PPM/PGM (", w, "x", h, " pixels need ", w * h * channels, " bytes)");
}

}  // namespace

const char* stb_reason() {
  const char* r = stbi_failure_reason();
  return r ? r : "unknown error";
}

void check_image_size(int64_t width, int64_t height, const std::string& label) {
  NWQ_CHECK(width > 0 && height > 0, label, ": image of size ", width, "x", height);
  NWQ_CHECK(width <= kMaxImagePixels / height, label, ": image of ", width, "x", height,
            " pixels is larger than the limit of ", kMaxImagePixels, " pixels");
}

void check_image_bytes(const std::vector<uint8_t>& b, const std::string& label) {
  if (starts_with(b, {0xFF, 0xD8, 0xFF})) return check_jpeg(b, label);
  if (starts_with(b, {0x89, 'P', 'N', 'G'}) || starts_with(b, {'B', 'M'})) return;
  if (starts_with(b, {'P', '6'}) || starts_with(b, {'P', '5'})) return check_pnm(b, label);
  throw Error(str(label, ": not a JPEG, PNG, BMP or binary PPM/PGM image"));
}

}  // namespace nwq
