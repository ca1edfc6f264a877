// IDX parsing with every header field checked against the bytes actually present, so a lying
// header gives an error instead of a huge allocation or a read past the end.
#include "data/idx.h"

#include <fstream>
#include <cstddef>
#include <iomanip>
#include <sstream>

#include "core/error.h"
#include "data/gzip.h"

namespace nwq {
namespace {

uint32_t read_be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

// Names of the IDX element types, for error messages; nullptr for codes the format lacks.
const char* idx_type_name(uint8_t code) {
  switch (code) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "short";
    case 0x0C: return "int";
    case 0x0D: return "float";
    case 0x0E: return "double";
    default: return nullptr;
  }
}

std::string hex_byte(uint8_t value) {
  std::ostringstream out;
  out << "0x" << std::hex << std::setw(2) << std::setfill('0') << int{value};
  return out.str();
}

std::string dims_text(const std::vector<int64_t>& dims) {
  std::ostringstream out;
  for (size_t i = 0; i < dims.size(); ++i) out << (i ? " x " : "") << dims[i];
  return out.str();
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  NWQ_CHECK(file, path, ": cannot open file");
  const std::streamoff size = file.tellg();
  NWQ_CHECK(size >= 0, path, ": cannot determine file size");
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  file.seekg(0);
  file.read(reinterpret_cast<char*>(bytes.data()), size);
  NWQ_CHECK(file, path, ": read failed");
  return bytes;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

IdxArray parse_idx(const std::vector<uint8_t>& bytes, const std::string& label) {
  NWQ_CHECK(bytes.size() >= 4, label, ": truncated IDX file (", bytes.size(), " bytes)");
  NWQ_CHECK(bytes[0] == 0 && bytes[1] == 0, label, ": not an IDX file (bad magic ",
            hex_byte(bytes[0]), " ", hex_byte(bytes[1]), ", expected 0x00 0x00)");
  const uint8_t type = bytes[2];
  const char* type_name = idx_type_name(type);
  NWQ_CHECK(type_name != nullptr, label, ": not an IDX file (unknown type code ", hex_byte(type), ")");
  NWQ_CHECK(type == 0x08, label, ": unsupported IDX element type ", hex_byte(type), " (",
            type_name, "); only 0x08 (unsigned byte) is supported");
  const size_t ndims = bytes[3];
  NWQ_CHECK(ndims >= 1, label, ": IDX header has zero dimensions");
  const size_t header = 4 + 4 * ndims;
  NWQ_CHECK(bytes.size() >= header, label, ": truncated IDX header (", ndims, " dims need ",
            header, " bytes, file has ", bytes.size(), ")");

  IdxArray array;
  bool has_zero = false;
  for (size_t i = 0; i < ndims; ++i) {
    array.dims.push_back(read_be32(&bytes[4 + 4 * i]));
    has_zero = has_zero || array.dims.back() == 0;
  }
  // Multiply the dims while the product still fits in the data present; stop as soon as it
  // does not, so a lying header can neither overflow nor trigger a huge allocation.
  const uint64_t available = bytes.size() - header;
  uint64_t count = has_zero ? 0 : 1;
  for (size_t i = 0; i < ndims && count != 0; ++i) {
    const uint64_t dim = static_cast<uint64_t>(array.dims[i]);
    NWQ_CHECK(count <= available / dim, label, ": truncated IDX data (dims ",
              dims_text(array.dims), " need more than the ", available, " data bytes present)");
    count *= dim;
  }
  NWQ_CHECK(count == available, label, ": IDX data size mismatch (dims ", dims_text(array.dims),
            " need ", count, " bytes, file has ", available, "; ",
            available - count, " trailing bytes)");
  array.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
  return array;
}

IdxArray read_idx_file(const std::string& path) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  const bool gzip_magic = bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
  if (ends_with(path, ".gz") || gzip_magic) bytes = gunzip(bytes, path);
  return parse_idx(bytes, path);
}

}  // namespace nwq
