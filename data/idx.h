// The IDX array format of (Fashion-)MNIST: a big-endian header (0, 0, type code, number of dims,
// then each dim as a u32) followed by the raw elements. Only unsigned bytes (type 0x08) are read.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nwq {

struct IdxArray {
  std::vector<int64_t> dims;  // e.g. {10000, 28, 28} for images, {10000} for labels
  std::vector<uint8_t> data;  // row-major elements, product(dims) bytes
};

// Parses an IDX file held in memory; `label` names it in errors (bad magic, unsupported type,
// truncated header, data shorter or longer than the dims say).
IdxArray parse_idx(const std::vector<uint8_t>& bytes, const std::string& label);

// Reads an IDX file from disk, gunzipping it first when the name ends in ".gz" or the bytes start
// with the gzip magic.
IdxArray read_idx_file(const std::string& path);

}  // namespace nwq
