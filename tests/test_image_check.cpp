// Image files are checked before stb_image decodes them: the inputs the fuzzers found to break
// stb_image 2.27 (16-bit and truncated PNM, JPEG Huffman tables over 256 codes, huge or empty
// headers, unknown formats) are refused with the file's name; good files pass.
#include <doctest/doctest.h>

#include "core/error.h"
#include "data/image_check.h"
#include "data/image_folder.h"
#include "image_test_util.h"

using namespace nwq;

namespace {

std::vector<uint8_t> bytes_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

std::string error_of(const std::vector<uint8_t>& b) {
  try {
    check_image_bytes(b, "img.x");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("image check: PNM headers") {
  CHECK(error_of(bytes_of("P6 2 1 255\n" + std::string(6, 'a'))).empty());
  CHECK(error_of(bytes_of("P5\n# comment\n2 2\n255\n" + std::string(4, 'a'))).empty());
  CHECK(error_of(bytes_of("P5 2 2 65535\n" + std::string(8, 'a'))).find("maxval 65535") !=
        std::string::npos);
  CHECK(error_of(bytes_of("P6 4 4 255\nabc")).find("truncated") != std::string::npos);
  CHECK(error_of(bytes_of("P6 16777216 42 255\n")).find("larger than the limit") != std::string::npos);
  CHECK(error_of(bytes_of("P6 0 42 255\n")).find("size 0x42") != std::string::npos);
  CHECK(error_of(bytes_of("P6 1234567890123 1 255\n")).find("too long") != std::string::npos);
  // A comment ends at '\r' as well as '\n', as stb_image reads it (fuzz finding
  // image-pnm-comment-cr-overflow: stb parsed the digits after '\r' into an overflowing int).
  CHECK(error_of(bytes_of("P5\n#c\r2 1\n255\n" + std::string(2, 'a'))).empty());
  CHECK(error_of(bytes_of("P6 2 2\n#c\r6666666666666 \n")).find("too long") != std::string::npos);
  CHECK(error_of(bytes_of("GIF89a")).find("not a JPEG, PNG") != std::string::npos);
  CHECK(error_of(bytes_of("GIF89a")).find("img.x") != std::string::npos);
}

TEST_CASE("image check: JPEG Huffman tables") {
  // SOI, then a DHT segment whose 16 counts declare 16 * 17 = 272 codes.
  std::vector<uint8_t> b = {0xFF, 0xD8, 0xFF, 0xC4, 0x01, 0x23, 0x00};
  for (int k = 0; k < 16; ++k) b.push_back(17);
  b.resize(b.size() + 272, 0);
  b[4] = uint8_t((b.size() - 4) >> 8), b[5] = uint8_t((b.size() - 4) & 0xFF);
  CHECK(error_of(b).find("272 codes") != std::string::npos);
  // A real JPEG passes and decodes.
  test::TempDir dir;
  test::write_jpg(dir / "a.jpg", test::numbered_image(8, 8, 3, 1));
  CHECK(decode_image_rgb(dir / "a.jpg").width == 8);
  std::vector<uint8_t> truncated = {0xFF, 0xD8, 0xFF, 0xE0, 0x10, 0x00};
  CHECK(error_of(truncated).find("runs past the end") != std::string::npos);
}

// Fuzz finding image-jpeg-undefined-huffman-table: stb_image does not zero its decoder, so a scan
// using a Huffman (or quantization) table that no segment defined decoded with garbage tables
// (a symbol index of 2^31 into a 257-entry array). Such scans are refused, naming the table.
TEST_CASE("image check: JPEG scans may use only defined tables") {
  test::TempDir dir;
  test::write_jpg(dir / "a.jpg", test::numbered_image(8, 8, 3, 1));
  std::ifstream in(dir / "a.jpg", std::ios::binary);
  const std::vector<uint8_t> good((std::istreambuf_iterator<char>(in)), {});
  CHECK(error_of(good).empty());
  auto segment = [&](uint8_t marker) {  // offset of the first segment with this marker
    for (size_t i = 2; i + 1 < good.size(); ++i)
      if (good[i] == 0xFF && good[i + 1] == marker) return i;
    FAIL("no marker");
    return size_t{0};
  };
  const size_t sos = segment(0xDA), sof = segment(0xC0);
  std::vector<uint8_t> dc = good, ac = good, quant = good;
  dc[sos + 6] = uint8_t((3 << 4) | (dc[sos + 6] & 15));  // first component: DC table 3
  ac[sos + 6] = uint8_t((ac[sos + 6] & 0xF0) | 2);        // first component: AC table 2
  quant[sof + 12] = 3;                                     // first component: quantization table 3
  CHECK(error_of(dc).find("uses DC Huffman table 3, which no segment defines") != std::string::npos);
  CHECK(error_of(ac).find("uses AC Huffman table 2, which no segment defines") != std::string::npos);
  CHECK(error_of(quant).find("uses quantization table 3, which no segment defines") !=
        std::string::npos);
  // Fuzz finding image-jpeg-26-scans-15mp: stb_image decodes every scan over the whole image,
  // from zero-filled data when the file ends early, so pixels and scans are bounded by the file.
  std::vector<uint8_t> huge = good;
  huge[sof + 5] = 0x10, huge[sof + 6] = 0x00, huge[sof + 7] = 0x10, huge[sof + 8] = 0x00;  // 4096x4096
  CHECK(error_of(huge).find("4096x4096 pixels, more than its") != std::string::npos);
  std::vector<uint8_t> rescanned(good.begin(), good.end() - 2);  // without the end marker
  for (int copy = 0; copy < 3; ++copy)  // the scan (SOS segment and its data) 3 more times
    rescanned.insert(rescanned.end(), good.begin() + std::ptrdiff_t(sos), good.end() - 2);
  CHECK(error_of(rescanned).find("scan 4 at byte") != std::string::npos);  // 3 components
  std::vector<uint8_t> arithmetic = good;  // SOF9: arithmetic coding, which stb_image lacks
  arithmetic[sof + 1] = 0xC9;
  CHECK(error_of(arithmetic).find("unsupported kind (frame SOF9") != std::string::npos);
}

// The image inputs of fuzz/findings/ that broke stb_image are refused by name before decoding;
// the two that stb handles safely (an empty PNG IDAT; a JPEG whose only fault is an undefined
// shift inside stb) may decode or fail, but never crash.
TEST_CASE("image check: the fuzz findings are refused before stb_image sees them") {
  const std::string dir = "fuzz/findings/";
  for (const char* name : {"image-hdr-zero-width", "image-jpeg-huffman-overflow",
                           "image-jpeg-huffman-after-scan", "image-png-chunk-length-2gb",
                           "image-jpeg-undefined-huffman-table", "image-jpeg-26-scans-15mp",
                           "image-bmp-26-bytes-46mb",
                           "image-pgm-zero-height", "image-pgm16-heap-overflow-fuzzed", "image-pnm-comment-cr-overflow",
                           "image-pgm16-heap-overflow-valid-file", "image-pnm-integer-overflow",
                           "image-ppm-header-2gb", "image-ppm-truncated-uninitialized"}) {
    CAPTURE(name);
    if (!std::ifstream(dir + name).good()) {
      MESSAGE("skipped: " << dir << name << " is missing");
      continue;
    }
    CHECK_THROWS_WITH_AS(decode_image_rgb(dir + name), doctest::Contains(name), Error);
  }
  for (const char* name : {"image-png-empty-idat-memcpy-null", "image-jpeg-shift-32"}) {
    try {
      decode_image_rgb(dir + name);
    } catch (const Error&) {
    }
  }
}

// Fuzz finding image-png-chunk-length-2gb: a PNG chunk that declares more bytes than the file
// holds made stb_image reserve 2 GB; header scans (stbi_info on files) run the same checks.
TEST_CASE("image check: PNG chunk lengths and the header scan of files") {
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A,
                              0x7F, 0xFF, 0xFF, 0xFF, 'I', 'D', 'A', 'T', 0, 0, 0, 0};
  CHECK(error_of(png).find("more than the file holds") != std::string::npos);
  test::TempDir dir;
  test::write_png(dir / "ok.png", test::numbered_image(5, 7, 3, 1));
  int w = 0, h = 0;
  std::string why;
  CHECK(read_image_header(dir / "ok.png", w, h, why));
  CHECK(w == 7);
  CHECK(h == 5);
  std::ofstream(dir / "big.pgm", std::ios::binary) << "P5 1234567890 2 255\n";
  CHECK_FALSE(read_image_header(dir / "big.pgm", w, h, why));
  CHECK(why.find("big.pgm") != std::string::npos);
  const std::string finding = "fuzz/findings/image-png-chunk-length-2gb";
  if (std::ifstream(finding).good()) {
    CHECK_THROWS_WITH_AS(decode_image_rgb(finding), doctest::Contains("more than the file holds"),
                         Error);
  }
}

// Fuzz finding image-bmp-26-bytes-46mb: stb_image reads a BMP's missing rows as zeros, so a
// 26-byte header decoded to a 1536x9984 image (seconds of work); the rows must be in the file.
TEST_CASE("image check: BMP pixel rows must be in the file") {
  test::TempDir dir;
  const Image8 img = test::numbered_image(3, 5, 3, 2);
  REQUIRE(stbi_write_bmp((dir / "ok.bmp").c_str(), 5, 3, 3, img.pixels.data()) != 0);
  CHECK(decode_image_rgb(dir / "ok.bmp").width == 5);
  std::ifstream in(dir / "ok.bmp", std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  bytes.resize(bytes.size() - 8);  // drop part of the last row
  CHECK(error_of(bytes).find("truncated BMP") != std::string::npos);
}

// Fuzz finding image-jpeg-then-pnm-header: stb_image's *file* reader cannot rewind past its first
// 128 bytes, so after the JPEG test failed, its PNM test parsed mid-file bytes (an int overflow).
// Headers are now read from memory: this broken JPEG is refused by name.
TEST_CASE("image check: header reads do not fall through to a mid-file format test") {
  const std::string finding = "fuzz/findings/image-jpeg-then-pnm-header";
  if (!std::ifstream(finding).good()) {
    MESSAGE("skipped: " << finding << " is missing");
    return;
  }
  int w = 0, h = 0;
  std::string why;
  CHECK_FALSE(read_image_header(finding, w, h, why));
  CHECK(why.find("image-jpeg-then-pnm-header") != std::string::npos);
}
