// Tests for core/safetensors and core/file_util: byte-exact round trips, metadata, and every
// corrupt-file case giving an nwq::Error that names the file; atomic writes that fail cleanly.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/file_util.h"
#include "core/safetensors.h"
#include "tests/temp_dir.h"

using nwq::DType;

namespace {

using nwq::test::TempDir;

// The message of the nwq::Error that `action` throws, or "" when it throws nothing.
std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const nwq::Error& error) {
    return error.what();
  }
  return "";
}

std::vector<uint8_t> bytes_of(const std::string& text) { return std::vector<uint8_t>(text.begin(), text.end()); }

// A safetensors file from a header text and a data section, with the length prefix in front.
std::vector<uint8_t> make_file(const std::string& header, size_t data_bytes, uint64_t claimed_length) {
  std::vector<uint8_t> out(8);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(claimed_length >> (8 * i));
  out.insert(out.end(), header.begin(), header.end());
  for (size_t i = 0; i < data_bytes; ++i) out.push_back(static_cast<uint8_t>(i));
  return out;
}
std::vector<uint8_t> make_file(const std::string& header, size_t data_bytes) {
  return make_file(header, data_bytes, header.size());
}

void write_raw(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// Writes `bytes` to a file and checks read_safetensors rejects it naming the path and `why`.
void check_corrupt(const std::vector<uint8_t>& bytes, const std::string& why) {
  TempDir dir;
  std::string path = dir / "corrupt.safetensors";
  write_raw(path, bytes);
  std::string message = error_of([&] { nwq::read_safetensors(path); });
  INFO("expected: ", why, "\nmessage: ", message);
  CHECK(message.find(path) != std::string::npos);
  CHECK(message.find(why) != std::string::npos);
}

const char* kTensorA = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";

}  // namespace

TEST_CASE("safetensors: write, read back, and bytes are identical") {
  TempDir dir;
  std::vector<float> weight = {1.5f, -2.0f, 3.25f, 0.0f, 1e-30f, -7.0f};
  std::vector<int64_t> counter = {1, -2, 9007199254740993LL, 4};
  std::vector<uint8_t> codes = {0, 255, 7};
  double scalar = 3.141592653589793;
  std::vector<nwq::SafetensorsTensorView> tensors = {
      {"conv1.weight", DType::F32, {2, 3}, weight.data()},
      {"bn1.num_batches_tracked", DType::I64, {4}, counter.data()},
      {"codes", DType::U8, {3}, codes.data()},
      {"empty", DType::I8, {0, 5}, nullptr},
      {"scale", DType::F64, {}, &scalar},
  };
  nwq::SafetensorsMetadata metadata = {{"format", "pt"}, {"nwq.config", R"({"bits":4})"}};
  std::string path = dir / "model.safetensors";
  nwq::write_safetensors(path, tensors, metadata);

  std::vector<uint8_t> expected = nwq::serialize_safetensors(tensors, metadata);
  CHECK(nwq::read_file_bytes(path) == expected);
  nwq::SafetensorsFile file = nwq::read_safetensors(path);
  CHECK(file.bytes == expected);
  CHECK(file.data_start % 8 == 0);
  CHECK(file.metadata == metadata);
  REQUIRE(file.entries.size() == 5);
  for (size_t i = 1; i < file.entries.size(); ++i) CHECK(file.entries[i - 1].begin <= file.entries[i].begin);

  const nwq::SafetensorsEntry* w = file.find("conv1.weight");
  REQUIRE(w != nullptr);
  CHECK(w->dtype == DType::F32);
  CHECK(w->shape == std::vector<int64_t>{2, 3});
  CHECK(std::memcmp(file.data(*w), weight.data(), 24) == 0);
  const nwq::SafetensorsEntry* c = file.find("bn1.num_batches_tracked");
  REQUIRE(c != nullptr);
  CHECK(std::memcmp(file.data(*c), counter.data(), 32) == 0);
  CHECK(file.find("empty")->shape == std::vector<int64_t>{0, 5});
  CHECK(file.find("scale")->shape.empty());
  CHECK(std::memcmp(file.data(*file.find("scale")), &scalar, 8) == 0);
  CHECK(file.find("missing") == nullptr);

  // Re-serializing what was read gives the same bytes.
  std::vector<nwq::SafetensorsTensorView> again;
  for (const char* name : {"conv1.weight", "bn1.num_batches_tracked", "codes", "empty", "scale"}) {
    const nwq::SafetensorsEntry* e = file.find(name);
    again.push_back({e->name, e->dtype, e->shape, file.data(*e)});
  }
  CHECK(nwq::serialize_safetensors(again, file.metadata) == expected);
}

TEST_CASE("safetensors: header layout, padding and no metadata") {
  float value = 2.0f;
  std::vector<uint8_t> bytes = nwq::serialize_safetensors({{"x", DType::F32, {1}, &value}}, {});
  uint64_t header_length = 0;
  for (int i = 7; i >= 0; --i) header_length = (header_length << 8) | bytes[i];
  CHECK(header_length % 8 == 0);
  std::string header(bytes.begin() + 8, bytes.begin() + 8 + static_cast<long>(header_length));
  CHECK(header.rfind(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 0) == 0);
  CHECK(header.find_first_not_of(' ', 55) == std::string::npos);  // only space padding follows
  CHECK(bytes.size() == 8 + header_length + 4);
  nwq::SafetensorsFile file = nwq::parse_safetensors(bytes, "mem");
  CHECK(file.metadata.empty());
  CHECK(nwq::parse_safetensors(nwq::serialize_safetensors({}, {}), "mem").entries.empty());
}

TEST_CASE("safetensors: entries come back in offset order and gaps are allowed") {
  std::string header = R"({"late":{"dtype":"U8","shape":[2],"data_offsets":[10,12]},)"
                       R"("zero":{"dtype":"I32","shape":[0],"data_offsets":[4,4]},)"
                       R"("early":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})";
  nwq::SafetensorsFile file = nwq::parse_safetensors(make_file(header, 16), "gaps");
  REQUIRE(file.entries.size() == 3);
  CHECK(file.entries[0].name == "early");
  CHECK(file.entries[1].name == "zero");
  CHECK(file.entries[2].name == "late");
  CHECK(file.data(file.entries[2])[0] == 10);
}

TEST_CASE("safetensors: truncated files and lying header lengths") {
  check_corrupt({}, "too short");
  check_corrupt({1, 0, 0}, "too short");
  std::string header = std::string("{") + kTensorA + "}";
  check_corrupt(make_file(header, 8, header.size() + 100), "larger than the rest of the file");
  check_corrupt(make_file(header, 8, uint64_t{1} << 62), "limit");
  check_corrupt(make_file(header, 8, 200u * 1000u * 1000u), "limit");
  std::vector<uint8_t> truncated = make_file(header, 8);
  truncated.resize(truncated.size() - 3);  // data section cut short
  check_corrupt(truncated, "past the end of the data section");
  check_corrupt(make_file(header, 0), "past the end of the data section");
}

TEST_CASE("safetensors: bad header JSON and shapes") {
  check_corrupt(make_file("{\"a\":", 0), "invalid JSON");
  check_corrupt(make_file("[1,2]   ", 0), "must be a JSON object");
  check_corrupt(make_file("", 0), "invalid JSON");
  check_corrupt(make_file(std::string("{") + kTensorA + "," + kTensorA + "}", 16), "duplicate key \"a\"");
  check_corrupt(make_file(R"({"a":[1]})", 0), "entry must be an object");
  check_corrupt(make_file(R"({"a":{"shape":[1],"data_offsets":[0,4]}})", 4), "missing field \"dtype\"");
  check_corrupt(make_file(R"({"a":{"dtype":"F32","data_offsets":[0,4]}})", 4), "missing field \"shape\"");
  check_corrupt(make_file(R"({"a":{"dtype":"F32","shape":[1]}})", 4), "missing field \"data_offsets\"");
  check_corrupt(make_file(R"({"a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}})", 2),
                "unsupported dtype \"BF16\"");
  check_corrupt(make_file(R"({"a":{"dtype":7,"shape":[1],"data_offsets":[0,2]}})", 2), "unsupported dtype");
  check_corrupt(make_file(R"({"a":{"dtype":"F32","shape":1,"data_offsets":[0,4]}})", 4), "must be an array");
  check_corrupt(make_file(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4),
                "negative dimension");
  check_corrupt(make_file(R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4),
                "must be integers");
  check_corrupt(make_file(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", 4),
                "overflows");
  check_corrupt(make_file(R"({"a":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,8]}})", 8),
                "overflows");
}

TEST_CASE("safetensors: bad offsets, byte counts and overlaps") {
  auto one = [](const std::string& offsets, const std::string& shape = "[2]") {
    return R"({"a":{"dtype":"F32","shape":)" + shape + R"(,"data_offsets":)" + offsets + "}}";
  };
  check_corrupt(make_file(one("[8,0]"), 8), "is before begin");
  check_corrupt(make_file(one("[0,12]"), 16), "span 12 bytes but shape and dtype need 8");
  check_corrupt(make_file(one("[0,4]"), 8), "span 4 bytes but shape and dtype need 8");
  check_corrupt(make_file(one("[8,16]"), 8), "past the end of the data section (8 bytes)");
  check_corrupt(make_file(one("[0,8,9]"), 8), "must be [begin, end]");
  check_corrupt(make_file(one("[0]"), 8), "must be [begin, end]");
  check_corrupt(make_file(one("[-8,0]"), 8), "non-negative integer");
  check_corrupt(make_file(one("[0,8.0]"), 8), "non-negative integer");
  check_corrupt(make_file(one("[0,18446744073709551616]"), 8), "non-negative integer");
  std::string overlap = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                        R"("b":{"dtype":"U8","shape":[4],"data_offsets":[6,10]}})";
  check_corrupt(make_file(overlap, 16), "overlap");
  std::string same = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                     R"("b":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})";
  check_corrupt(make_file(same, 8), "overlap");
  std::string inside = R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},)"
                       R"("b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}})";
  check_corrupt(make_file(inside, 8), "\"a\" [0, 8] and \"b\" [2, 4] overlap");
}

TEST_CASE("safetensors: metadata must map strings to strings") {
  check_corrupt(make_file(R"({"__metadata__":{"k":1}})", 0), "value of \"k\" must be a string");
  check_corrupt(make_file(R"({"__metadata__":["k"]})", 0), "\"__metadata__\" must be an object");
  nwq::SafetensorsFile file = nwq::parse_safetensors(
      make_file(R"({"__metadata__":{"b":"2","a":"1"}})", 0), "meta");
  CHECK(file.metadata == nwq::SafetensorsMetadata{{"b", "2"}, {"a", "1"}});
}

TEST_CASE("safetensors: missing files, folders and bad tensors to write") {
  TempDir dir;
  std::string missing = dir / "nope.safetensors";
  std::string message = error_of([&] { nwq::read_safetensors(missing); });
  CHECK(message.find(missing) != std::string::npos);
  CHECK(message.find("No such file") != std::string::npos);
  message = error_of([&] { nwq::read_file_bytes(dir.path()); });
  CHECK(message.find(dir.path()) != std::string::npos);
  CHECK(message.find("directory") != std::string::npos);

  float x = 1.0f;
  CHECK(error_of([&] { nwq::serialize_safetensors({{"a", DType::F32, {1}, &x}, {"a", DType::F32, {1}, &x}}, {}); })
            .find("duplicate tensor name") != std::string::npos);
  CHECK(error_of([&] { nwq::serialize_safetensors({{"__metadata__", DType::F32, {1}, &x}}, {}); })
            .find("reserved") != std::string::npos);
  CHECK(error_of([&] { nwq::serialize_safetensors({{"a", DType::F32, {1}, nullptr}}, {}); })
            .find("data is null") != std::string::npos);
  CHECK(error_of([&] { nwq::serialize_safetensors({{"a", DType::F32, {-1}, &x}}, {}); })
            .find("negative dimension") != std::string::npos);
  CHECK(error_of([&] { nwq::serialize_safetensors({}, {{"k", "1"}, {"k", "2"}}); })
            .find("duplicate metadata key") != std::string::npos);
}

TEST_CASE("file_util: atomic writes replace files and leave no temp behind") {
  TempDir dir;
  std::string path = dir / "out.bin";
  nwq::write_file_atomic(path, "first", 5);
  nwq::write_file_atomic(path, "second!", 7);
  CHECK(nwq::read_file_bytes(path) == bytes_of("second!"));
  nwq::write_file_atomic(path, nullptr, 0);
  CHECK(nwq::read_file_bytes(path).empty());
  size_t count = 0;
  for (const auto& item : std::filesystem::directory_iterator(dir.path())) {
    (void)item;
    ++count;
  }
  CHECK(count == 1);
}

TEST_CASE("file_util: failed atomic writes throw, clean up and keep the old file") {
  TempDir dir;
  // A folder that does not exist, and a path through a regular file: fail even for root.
  std::string no_folder = dir / "no/such/folder/out.bin";
  std::string message = error_of([&] { nwq::write_file_atomic(no_folder, "x", 1); });
  CHECK(message.find(no_folder) != std::string::npos);
  CHECK(message.find("No such file or directory") != std::string::npos);
  nwq::write_file_atomic(dir / "plain", "x", 1);
  message = error_of([&] { nwq::write_file_atomic(dir / "plain/out.bin", "x", 1); });
  CHECK(message.find("Not a directory") != std::string::npos);

  // Renaming over a non-empty folder fails after the temp file was written: it must be removed.
  std::string folder = dir / "taken";
  std::filesystem::create_directory(folder);
  nwq::write_file_atomic(folder + "/keep", "old", 3);
  message = error_of([&] { nwq::write_file_atomic(folder, "new", 3); });
  CHECK(message.find(folder) != std::string::npos);
  CHECK(message.find("rename") != std::string::npos);
  CHECK(nwq::read_file_bytes(folder + "/keep") == bytes_of("old"));
  CHECK_FALSE(std::filesystem::exists(folder + ".tmp." + std::to_string(getpid())));

  // A read-only folder: the earlier file stays intact. Root ignores permissions, so skip there.
  if (geteuid() == 0) {
    MESSAGE("running as root: skipping the read-only folder case (root ignores permissions)");
    return;
  }
  std::string locked = dir / "locked";
  std::filesystem::create_directory(locked);
  nwq::write_file_atomic(locked + "/weights.bin", "old", 3);
  chmod(locked.c_str(), 0555);
  message = error_of([&] { nwq::write_file_atomic(locked + "/weights.bin", "new", 3); });
  chmod(locked.c_str(), 0755);
  CHECK(message.find(locked + "/weights.bin") != std::string::npos);
  CHECK(message.find("Permission denied") != std::string::npos);
  CHECK(nwq::read_file_bytes(locked + "/weights.bin") == bytes_of("old"));
}
