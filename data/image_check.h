// Checks an image file's bytes before stb_image sees them. stb_image 2.27 (Debian's libstb) has
// memory errors on some inputs the fuzzers found (docs/RELIABILITY.md): 16-bit PGM/PPM, JPEG
// Huffman tables with more than 256 codes or never defined, truncated PNM files, huge or
// zero-sized headers.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nwq {

// The largest image decoded: width * height at most this many pixels (2^26, e.g. 8192 x 8192).
constexpr int64_t kMaxImagePixels = int64_t{1} << 26;

// Throws nwq::Error naming `label` unless bytes are a JPEG, PNG, BMP or 8-bit binary PPM/PGM
// (P6/P5) whose headers are sane: JPEG Huffman tables of at most 256 codes, and every Huffman
// and quantization table a scan uses defined before it; PNG chunks that fit
// in the file, up to IEND; BMP pixel rows present in full; PNM dimensions in
// [1, 2^26] pixels, maxval <= 255 and the pixel data present in full.
void check_image_bytes(const std::vector<uint8_t>& bytes, const std::string& label);

// Header checks read this many bytes from the start of a file.
constexpr uint64_t kHeaderBytes = 64 * 1024;

// The header check that `scan` code uses instead of a bare stbi_info: reads the first
// kHeaderBytes of path, applies check_image_bytes' rules to them (as far as they reach), then
// stbi_info and check_image_size. False with `why` (naming the file) when any of them fails.
bool read_image_header(const std::string& path, int& width, int& height, std::string& why);

// stbi_failure_reason(), or "unknown error" where stb gives none (never null).
const char* stb_reason();

// Throws unless width and height are positive and width * height <= kMaxImagePixels.
void check_image_size(int64_t width, int64_t height, const std::string& label);

}  // namespace nwq
