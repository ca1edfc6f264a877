// gunzip: walks the RFC 1952 header, lets stb_image's inflate decode the deflate stream into a
// buffer sized by the trailer, then checks CRC-32 and length. Nothing is trusted before checking.
#include "data/gzip.h"

#include <stb/stb_image.h>  // implementation lives in Debian's libstb (link with -lstb)

#include <array>
#include <climits>

#include "core/error.h"

namespace nwq {
namespace {

// Table of CRC-32 of each byte value, built at compile time.
constexpr std::array<uint32_t, 256> make_crc32_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t n = 0; n < 256; ++n) {
    uint32_t c = n;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[n] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrc32Table = make_crc32_table();

// Header flag bits (RFC 1952 section 2.3.1).
constexpr uint8_t kFlagHcrc = 0x02, kFlagExtra = 0x04, kFlagName = 0x08, kFlagComment = 0x10;
constexpr uint8_t kFlagReserved = 0xE0;

uint32_t read_le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

// Returns the offset of the first deflate byte, after validating the header.
size_t parse_gzip_header(const std::vector<uint8_t>& gz, const std::string& label) {
  const size_t size = gz.size();
  NWQ_CHECK(size >= 2 && gz[0] == 0x1f && gz[1] == 0x8b, label, ": not a gzip file (bad magic)");
  NWQ_CHECK(size >= 18, label, ": truncated gzip file (", size, " bytes)");
  NWQ_CHECK(gz[2] == 8, label, ": unsupported gzip compression method ", int{gz[2]},
            " (only 8, deflate, exists)");
  const uint8_t flags = gz[3];
  NWQ_CHECK((flags & kFlagReserved) == 0, label, ": corrupt gzip header (reserved flag bits set)");
  size_t pos = 10;  // magic, method, flags, mtime (4), extra flags, OS
  if (flags & kFlagExtra) {
    NWQ_CHECK(pos + 2 <= size, label, ": truncated gzip header");
    pos += 2 + (size_t{gz[pos]} | size_t{gz[pos + 1]} << 8);
  }
  for (uint8_t flag : {kFlagName, kFlagComment}) {  // zero-terminated strings
    if (!(flags & flag)) continue;
    while (pos < size && gz[pos] != 0) ++pos;
    ++pos;  // the terminator
  }
  if (flags & kFlagHcrc) {
    NWQ_CHECK(pos + 2 <= size, label, ": truncated gzip header");
    const uint32_t want = gz[pos] | uint32_t{gz[pos + 1]} << 8;
    NWQ_CHECK((crc32(gz.data(), pos) & 0xFFFF) == want, label, ": gzip header CRC mismatch");
    pos += 2;
  }
  NWQ_CHECK(pos + 8 <= size, label, ": truncated gzip file (no room for data and trailer)");
  return pos;
}

}  // namespace

uint32_t crc32(const uint8_t* data, size_t size, uint32_t crc) {
  crc = ~crc;
  for (size_t i = 0; i < size; ++i) crc = kCrc32Table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

std::vector<uint8_t> gunzip(const std::vector<uint8_t>& gz, const std::string& label) {
  const size_t start = parse_gzip_header(gz, label);
  const size_t deflate_size = gz.size() - 8 - start;
  const uint32_t want_crc = read_le32(&gz[gz.size() - 8]);
  const uint64_t want_size = read_le32(&gz[gz.size() - 4]);  // ISIZE: length mod 2^32
  NWQ_CHECK(deflate_size + 8 <= static_cast<size_t>(INT_MAX), label,
            ": gzip file too large for the decoder (", deflate_size, " compressed bytes)");
  // Deflate cannot expand more than 1032:1 (each 258-byte match costs at least 2 bits), so a
  // larger claimed size means the trailer is garbage: usually a truncated file.
  NWQ_CHECK(want_size <= 1032 * uint64_t{deflate_size} + 1024, label, ": truncated or corrupt ",
            "gzip file (trailer claims ", want_size, " bytes from ", deflate_size, " compressed)");
  NWQ_CHECK(want_size <= kMaxGunzipBytes, label, ": refusing to decompress ", want_size,
            " bytes (limit ", kMaxGunzipBytes, ")");

  // Decode into a buffer of exactly the claimed size; stb fails if the stream wants more.
  // One spare byte keeps the pointer valid when the payload is empty.
  std::vector<uint8_t> out(want_size + 1);
  // The 8 trailer bytes go to stb too: its bit reader reports "bad huffman code" when the input
  // ends within 2 bytes of the last code (nothings/stb issue #1456), which never happens in PNG
  // because the Adler-32 follows. Extra input after the final block is simply not read.
  const int got = stbi_zlib_decode_noheader_buffer(
      reinterpret_cast<char*>(out.data()), static_cast<int>(want_size),
      reinterpret_cast<const char*>(gz.data() + start), static_cast<int>(deflate_size + 8));
  if (got < 0) {
    // stb's reason is a hint only ("output buffer limit" = more data than the trailer claims).
    const char* reason = stbi_failure_reason();
    throw Error(str(label, ": corrupt or truncated gzip data (inflate failed: ",
                    reason != nullptr ? reason : "unknown error", ")"));
  }
  NWQ_CHECK(static_cast<uint64_t>(got) == want_size, label, ": truncated or corrupt gzip file ",
            "(decoded ", got, " bytes, trailer says ", want_size, ")");
  out.resize(want_size);
  NWQ_CHECK(crc32(out.data(), out.size()) == want_crc, label, ": gzip CRC mismatch (file corrupt)");
  return out;
}

}  // namespace nwq
