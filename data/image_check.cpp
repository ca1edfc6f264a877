// Pre-checks of image files for the formats nwq reads through stb_image (see image_check.h).
#include "data/image_check.h"

#include <stb/stb_image.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <fstream>
#include <utility>

#include "core/error.h"
#include "core/file_util.h"

namespace nwq {

namespace {

bool starts_with(const std::vector<uint8_t>& b, std::initializer_list<uint8_t> magic) {
  if (b.size() < magic.size()) return false;
  size_t i = 0;
  for (uint8_t m : magic)
    if (b[i++] != m) return false;
  return true;
}

// Which JPEG tables the segments so far defined, and what the frame header declared. stb_image
// allocates its decoder without zeroing it, so a scan that uses a Huffman or quantization table
// no segment defined reads uninitialised memory (fuzz finding image-jpeg-undefined-huffman-table:
// a garbage Huffman table sends a symbol index far out of bounds).
struct JpegTables {
  bool huffman[2][16] = {};  // [0: DC, 1: AC][table id]
  bool quant[16] = {};
  bool progressive = false;
  std::vector<std::pair<uint8_t, uint8_t>> components;  // (component id, quantization table id)
  int scans = 0;
};

// Bounds on the decoding work a JPEG file may ask for (fuzz finding image-jpeg-26-scans-15mp: a
// 2.6 KB baseline file declaring 245 x 62752 pixels and 26 scans, each of which stb_image decodes
// over the whole image from zero-filled data). Every 8x8 block of a scan costs at least one bit,
// so a complete file holds at least one bit per 64 pixels; a sequential file has at most one scan
// per component; progressive files use about 10 scans (we allow kMaxProgressiveScans).
constexpr uint64_t kMaxPixelsPerJpegByte = 512;
constexpr int kMaxProgressiveScans = 100;  // libjpeg's default progression uses 10

// The Huffman tables of one DHT segment's body [t, end).
void check_dht(const std::vector<uint8_t>& b, size_t t, size_t end, JpegTables& tables,
               const std::string& label) {
  while (t < end) {
    NWQ_CHECK(t + 17 <= end, label, ": broken JPEG Huffman table at byte ", t);
    size_t codes = 0;
    for (int k = 1; k <= 16; ++k) codes += b[t + k];
    NWQ_CHECK(codes <= 256 && t + 17 + codes <= end, label, ": broken JPEG Huffman table at byte ",
              t, " (", codes, " codes)");
    tables.huffman[(b[t] >> 4) & 1][b[t] & 15] = true;
    t += 17 + codes;
  }
}

// The quantization tables of one DQT segment's body [t, end): 64 entries of 8 or 16 bits each.
void check_dqt(const std::vector<uint8_t>& b, size_t t, size_t end, JpegTables& tables,
               const std::string& label) {
  while (t < end) {
    const size_t size = 1 + ((b[t] >> 4) ? 128 : 64);
    NWQ_CHECK(t + size <= end, label, ": broken JPEG quantization table at byte ", t);
    tables.quant[b[t] & 15] = true;
    t += size;
  }
}

// A frame header (SOF) body [t, end): remembers each component's quantization table, and checks
// that a file of `total` bytes can hold the declared pixels.
void read_sof(const std::vector<uint8_t>& b, size_t t, size_t end, uint64_t total,
              JpegTables& tables, const std::string& label) {
  NWQ_CHECK(t + 6 <= end && t + 6 + 3 * size_t(b[t + 5]) <= end, label,
            ": broken JPEG frame header at byte ", t);
  const uint64_t height = uint64_t(b[t + 1]) << 8 | b[t + 2], width = uint64_t(b[t + 3]) << 8 | b[t + 4];
  NWQ_CHECK(width * height <= kMaxPixelsPerJpegByte * total, label, ": broken JPEG (it declares ",
            width, "x", height, " pixels, more than its ", total,
            " bytes can hold: at least one bit per 8x8 block)");
  tables.components.clear();
  for (size_t i = 0; i < b[t + 5]; ++i) tables.components.push_back({b[t + 6 + 3 * i], b[t + 8 + 3 * i]});
}

// A scan header (SOS) body [t, end): every table the scan decodes with must have been defined.
// Progressive scans use DC tables only in first DC scans and AC tables only in AC scans.
void check_sos(const std::vector<uint8_t>& b, size_t t, size_t end, JpegTables& tables,
               const std::string& label) {
  const int max_scans = tables.progressive ? kMaxProgressiveScans
                                           : std::max(1, int(tables.components.size()));
  NWQ_CHECK(++tables.scans <= max_scans, label, ": broken JPEG (scan ", tables.scans, " at byte ", t,
            "; a ", tables.progressive ? "progressive" : "sequential", " file has at most ",
            max_scans, ")");
  const size_t n = t < end ? b[t] : 0;
  NWQ_CHECK(n >= 1 && t + 1 + 2 * n + 3 <= end, label, ": broken JPEG scan header at byte ", t);
  const uint8_t first_coefficient = b[t + 1 + 2 * n], successive_high = b[t + 3 + 2 * n] >> 4;
  const bool uses_dc = !tables.progressive || (first_coefficient == 0 && successive_high == 0);
  const bool uses_ac = !tables.progressive || first_coefficient != 0;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t id = b[t + 1 + 2 * i], selectors = b[t + 2 + 2 * i];
    NWQ_CHECK(!uses_dc || tables.huffman[0][selectors >> 4], label, ": broken JPEG (a scan at byte ",
              t, " uses DC Huffman table ", selectors >> 4, ", which no segment defines)");
    NWQ_CHECK(!uses_ac || tables.huffman[1][selectors & 15], label, ": broken JPEG (a scan at byte ",
              t, " uses AC Huffman table ", selectors & 15, ", which no segment defines)");
    for (const auto& [component, quant] : tables.components) {
      NWQ_CHECK(component != id || tables.quant[quant & 15], label, ": broken JPEG (component ",
                int(id), " uses quantization table ", quant & 15, ", which no segment defines)");
    }
  }
}

// Walks the JPEG segments (through every scan: progressive files define Huffman tables between
// scans); every DHT table must declare <= 256 codes and fit in its segment, and every table a
// scan uses must be defined before it. `total` is the file's size; b may be only its first bytes
// (header checks), in which case a segment running past b is not an error: the rest goes
// unchecked.
void check_jpeg(const std::vector<uint8_t>& b, uint64_t total, const std::string& label) {
  JpegTables tables;
  size_t pos = 2;
  while (pos + 4 <= b.size()) {
    if (b[pos] != 0xFF) { ++pos; continue; }  // entropy-coded data or garbage: find a marker
    const uint8_t marker = b[pos + 1];
    if (marker == 0xFF || marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {
      ++pos;  // fill byte, stuffed zero, TEM, restart markers, SOI: no length field
      continue;
    }
    if (marker == 0xD9) return;  // end of image
    const size_t len = size_t(b[pos + 2]) << 8 | b[pos + 3];
    if (pos + 2 + len > b.size() && b.size() < total) return;  // beyond the bytes read
    NWQ_CHECK(len >= 2 && pos + 2 + len <= b.size(), label, ": broken JPEG (segment at byte ", pos,
              " runs past the end)");
    const size_t body = pos + 4, end = pos + 2 + len;
    if (marker == 0xC4) check_dht(b, body, end, tables, label);
    if (marker == 0xDB) check_dqt(b, body, end, tables, label);
    if (marker == 0xDA) check_sos(b, body, end, tables, label);
    if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
      NWQ_CHECK(marker <= 0xC2, label, ": JPEG of an unsupported kind (frame SOF", marker - 0xC0,
                ": lossless, hierarchical or arithmetic-coded); baseline and progressive Huffman "
                "JPEGs are read");
      tables.progressive = marker == 0xC2;
      read_sof(b, body, end, total, tables, label);
    }
    pos = end;
  }
}

// Walks the PNG chunks: each one's length must fit in the file (stb_image reserves memory for
// the image data from the declared lengths before reading it).
void check_png(const std::vector<uint8_t>& b, uint64_t total, const std::string& label) {
  size_t pos = 8;
  while (pos + 12 <= b.size()) {
    const uint64_t len = uint64_t(b[pos]) << 24 | uint64_t(b[pos + 1]) << 16 |
                         uint64_t(b[pos + 2]) << 8 | b[pos + 3];
    NWQ_CHECK(len <= total - pos - 12, label, ": broken PNG (a chunk at byte ", pos,
              " declares ", len, " bytes, more than the file holds)");
    if (b[pos + 4] == 'I' && b[pos + 5] == 'E' && b[pos + 6] == 'N' && b[pos + 7] == 'D') return;
    pos += 12 + len;
  }
  if (b.size() < total) return;  // the rest is beyond the bytes read
  throw Error(str(label, ": broken PNG (no IEND chunk: the file is truncated)"));
}

uint32_t le32(const std::vector<uint8_t>& b, size_t at) {
  return uint32_t(b[at]) | uint32_t(b[at + 1]) << 8 | uint32_t(b[at + 2]) << 16 | uint32_t(b[at + 3]) << 24;
}

// The pixel rows a BMP header declares must be in the file (stb_image reads past the end as
// zeros, so a 26-byte file could decode to 46 MB).
void check_bmp(const std::vector<uint8_t>& b, uint64_t total, const std::string& label) {
  NWQ_CHECK(b.size() >= 30, label, ": broken BMP (header too short)");
  const uint32_t offset = le32(b, 10), header = le32(b, 14);
  int64_t width = 0, height = 0, bpp = 0;
  if (header == 12) {  // BITMAPCOREHEADER: 16-bit sizes
    width = b[18] | b[19] << 8, height = b[20] | b[21] << 8, bpp = b[24] | b[25] << 8;
  } else {
    width = int32_t(le32(b, 18)), height = int32_t(le32(b, 22)), bpp = b[28] | b[29] << 8;
  }
  height = height < 0 ? -height : height;
  check_image_size(width, height, label);
  NWQ_CHECK(bpp >= 1 && bpp <= 32, label, ": BMP with ", bpp, " bits per pixel");
  const uint64_t row = (uint64_t(width) * uint64_t(bpp) + 31) / 32 * 4;
  NWQ_CHECK(uint64_t(offset) + row * uint64_t(height) <= total, label, ": truncated BMP (",
            width, "x", height, " pixels at ", bpp, " bits need ", row * uint64_t(height),
            " bytes of pixel data)");
}

// Reads one header number of a binary PNM, skipping whitespace and comments. A comment ends at
// '\n' or '\r', as in stb_image (fuzz finding image-pnm-comment-cr-overflow: ending it only at
// '\n' let stb read a number nwq had taken for part of a comment).
int64_t pnm_number(const std::vector<uint8_t>& b, size_t& pos, const std::string& label) {
  while (pos < b.size() && (std::isspace(b[pos]) || b[pos] == '#')) {
    if (b[pos] == '#')
      while (pos < b.size() && b[pos] != '\n' && b[pos] != '\r') ++pos;
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

void check_pnm(const std::vector<uint8_t>& b, uint64_t total, const std::string& label) {
  const int64_t channels = b[1] == '6' ? 3 : 1;
  size_t pos = 2;
  const int64_t w = pnm_number(b, pos, label), h = pnm_number(b, pos, label);
  const int64_t maxval = pnm_number(b, pos, label);
  check_image_size(w, h, label);
  NWQ_CHECK(maxval >= 1 && maxval <= 255, label, ": PPM/PGM maxval ", maxval,
            " (only 8-bit files are read)");
  ++pos;  // the single whitespace byte before the pixels
  NWQ_CHECK(pos <= total && int64_t(total - pos) >= w * h * channels, label,
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

void check_image_prefix(const std::vector<uint8_t>& b, uint64_t total, const std::string& label) {
  if (starts_with(b, {0xFF, 0xD8, 0xFF})) return check_jpeg(b, total, label);
  if (starts_with(b, {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A})) return check_png(b, total, label);
  if (starts_with(b, {'B', 'M'})) return check_bmp(b, total, label);
  if (starts_with(b, {'P', '6'}) || starts_with(b, {'P', '5'})) return check_pnm(b, total, label);
  throw Error(str(label, ": not a JPEG, PNG, BMP or binary PPM/PGM image"));
}

void check_image_bytes(const std::vector<uint8_t>& b, const std::string& label) {
  check_image_prefix(b, b.size(), label);
}

bool read_image_header(const std::string& path, int& width, int& height, std::string& why) {
  try {
    std::ifstream in(path, std::ios::binary);
    NWQ_CHECK(in.good(), path, ": cannot open");
    in.seekg(0, std::ios::end);
    const uint64_t total = static_cast<uint64_t>(in.tellg());
    in.seekg(0);
    std::vector<uint8_t> prefix(static_cast<size_t>(std::min<uint64_t>(total, kHeaderBytes)));
    in.read(reinterpret_cast<char*>(prefix.data()), std::streamsize(prefix.size()));
    NWQ_CHECK(in.good() || prefix.empty(), path, ": read error");
    NWQ_CHECK(total > 0, path, ": the file is empty");
    check_image_prefix(prefix, total, path);
    // stb_image reads headers from memory here, never from the file: its file reader can only
    // rewind within its first 128-byte buffer, so after one format's test fails the next test
    // starts mid-file (fuzz finding image-jpeg-then-pnm-header). A header beyond the first
    // kHeaderBytes (large EXIF/ICC blocks) takes a second try on the whole file.
    int channels = 0;
    bool ok = stbi_info_from_memory(prefix.data(), int(prefix.size()), &width, &height, &channels);
    if (!ok && prefix.size() < total) {
      const std::vector<uint8_t> all = read_file_bytes(path);
      check_image_bytes(all, path);
      NWQ_CHECK(all.size() <= size_t(INT_MAX), path, ": image file too large");
      ok = stbi_info_from_memory(all.data(), int(all.size()), &width, &height, &channels);
    }
    NWQ_CHECK(ok, path, ": not a readable image (stb_image: ", stb_reason(), ")");
    check_image_size(width, height, path);
    return true;
  } catch (const Error& e) {
    why = e.what();
    return false;
  }
}

}  // namespace nwq
