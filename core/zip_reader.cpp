// Zip archive listing: find the end-of-central-directory record, walk the central directory,
// and locate each entry's data behind its local header. Only what torch.save writes is needed.
#include "core/zip_reader.h"

#include "core/error.h"

namespace nwq {

namespace {

constexpr uint32_t kLocalHeaderSignature = 0x04034b50;
constexpr uint32_t kCentralHeaderSignature = 0x02014b50;
constexpr uint32_t kEndRecordSignature = 0x06054b50;
constexpr size_t kLocalHeaderSize = 30;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kEndRecordSize = 22;

uint16_t read_u16(const std::vector<uint8_t>& b, size_t at) {
  return static_cast<uint16_t>(b[at] | (b[at + 1] << 8));
}

uint32_t read_u32(const std::vector<uint8_t>& b, size_t at) {
  return static_cast<uint32_t>(read_u16(b, at)) |
         (static_cast<uint32_t>(read_u16(b, at + 2)) << 16);
}

// The end record sits in the last 22 + 65535 bytes (it may be followed by a comment).
size_t find_end_record(const std::vector<uint8_t>& bytes, const std::string& label) {
  NWQ_CHECK(bytes.size() >= kEndRecordSize, label, ": zip archive is ", bytes.size(),
            " bytes, too short for an end-of-central-directory record; truncated?");
  size_t lowest = bytes.size() > kEndRecordSize + 65535 ? bytes.size() - kEndRecordSize - 65535 : 0;
  for (size_t at = bytes.size() - kEndRecordSize + 1; at-- > lowest;) {
    if (read_u32(bytes, at) == kEndRecordSignature) return at;
  }
  throw Error(str(label, ": no zip end-of-central-directory record; truncated or not a zip?"));
}

}  // namespace

bool looks_like_zip(const std::vector<uint8_t>& bytes) {
  return bytes.size() >= 4 && read_u32(bytes, 0) == kLocalHeaderSignature;
}

std::vector<ZipEntry> list_zip(const std::vector<uint8_t>& bytes, const std::string& label) {
  const size_t end = find_end_record(bytes, label);
  const uint16_t disk = read_u16(bytes, end + 4), cd_disk = read_u16(bytes, end + 6);
  NWQ_CHECK(disk == 0 && cd_disk == 0, label, ": multi-disk zip archives are not supported");
  const uint16_t count = read_u16(bytes, end + 10);
  const uint32_t cd_size = read_u32(bytes, end + 12), cd_offset = read_u32(bytes, end + 16);
  NWQ_CHECK(count != 0xFFFF && cd_size != 0xFFFFFFFF && cd_offset != 0xFFFFFFFF, label,
            ": zip64 archives (over 4 GiB or 65535 entries) are not supported");
  NWQ_CHECK(uint64_t{cd_offset} + cd_size <= end, label, ": zip central directory [", cd_offset,
            ", +", cd_size, ") runs past its end record at ", end, "; corrupt archive?");

  std::vector<ZipEntry> entries;
  size_t at = cd_offset;
  for (uint16_t i = 0; i < count; ++i) {
    NWQ_CHECK(at + kCentralHeaderSize <= end && read_u32(bytes, at) == kCentralHeaderSignature,
              label, ": zip central directory entry ", i, " at ", at, " is missing or corrupt");
    ZipEntry entry;
    const uint16_t flags = read_u16(bytes, at + 8);
    entry.method = read_u16(bytes, at + 10);
    const uint32_t packed = read_u32(bytes, at + 20), unpacked = read_u32(bytes, at + 24);
    const size_t name_len = read_u16(bytes, at + 28), extra_len = read_u16(bytes, at + 30);
    const size_t comment_len = read_u16(bytes, at + 32);
    const uint32_t local = read_u32(bytes, at + 42);
    NWQ_CHECK(at + kCentralHeaderSize + name_len + extra_len + comment_len <= end, label,
              ": zip central directory entry ", i, " runs past the directory");
    entry.name.assign(reinterpret_cast<const char*>(bytes.data()) + at + kCentralHeaderSize,
                      name_len);
    at += kCentralHeaderSize + name_len + extra_len + comment_len;
    const std::string where = str(label, ": zip entry \"", entry.name, "\"");
    NWQ_CHECK((flags & 1) == 0, where, " is encrypted");
    NWQ_CHECK(packed != 0xFFFFFFFF && unpacked != 0xFFFFFFFF && local != 0xFFFFFFFF, where,
              " uses zip64 sizes, which are not supported");
    NWQ_CHECK(entry.method != 0 || packed == unpacked, where, " is STORED but its sizes differ (",
              packed, " vs ", unpacked, ")");
    NWQ_CHECK(uint64_t{local} + kLocalHeaderSize <= bytes.size() &&
                  read_u32(bytes, local) == kLocalHeaderSignature,
              where, ": local header at ", local, " is missing; truncated?");
    const uint64_t data_begin = uint64_t{local} + kLocalHeaderSize + read_u16(bytes, local + 26) +
                                read_u16(bytes, local + 28);
    NWQ_CHECK(data_begin <= bytes.size() && packed <= bytes.size() - data_begin, where, ": data [",
              data_begin, ", +", packed, ") runs past the end of the archive (", bytes.size(),
              " bytes); truncated?");
    entry.data_begin = data_begin;
    entry.size = packed;
    entries.push_back(entry);
  }
  return entries;
}

}  // namespace nwq
