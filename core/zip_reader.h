// A minimal reader for the zip archives torch.save writes (PyTorch >= 1.6): the central
// directory is parsed and STORED (uncompressed) entries are returned as byte ranges.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace nwq {

struct ZipEntry {
  std::string name;
  uint16_t method = 0;      // 0 = STORED, 8 = DEFLATE (not read here)
  uint64_t data_begin = 0;  // offset of the entry's bytes inside the archive
  uint64_t size = 0;        // bytes (compressed size == uncompressed size for STORED)
};

// True when the bytes start with a zip local file header ("PK\3\4").
bool looks_like_zip(const std::vector<uint8_t>& bytes);

// Lists the entries of a zip archive held in memory. Every offset and size is checked against
// the buffer; errors are nwq::Error starting with `label` (usually the file path). Zip64
// archives (over 4 GiB or 65535 entries) and multi-disk archives are refused.
std::vector<ZipEntry> list_zip(const std::vector<uint8_t>& bytes, const std::string& label);

}  // namespace nwq
