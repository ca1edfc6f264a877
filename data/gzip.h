// Reading .gz files (RFC 1952): header parsing, inflate via stb_image's zlib decoder, and the
// CRC32 and size checks of the trailer. Used for the gzipped IDX files of (Fashion-)MNIST.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace nwq {

// Largest uncompressed size gunzip accepts (1 GiB).
constexpr uint64_t kMaxGunzipBytes = uint64_t{1} << 30;

// CRC-32 as used by gzip, zip and PNG (reflected polynomial 0xEDB88320). Pass the previous
// result as `crc` to continue over several buffers. crc32("123456789") == 0xCBF43926.
uint32_t crc32(const uint8_t* data, size_t size, uint32_t crc = 0);

// Decompresses a single-member gzip file held in memory. `label` (usually the file path) names
// the input in errors: not a gzip file, truncated, corrupt deflate data, CRC or size mismatch.
// The member must end the buffer: its 8-byte trailer is read from the last 8 bytes.
std::vector<uint8_t> gunzip(const std::vector<uint8_t>& gz, const std::string& label);

}  // namespace nwq
