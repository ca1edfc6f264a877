// Tests for the raw data layer: gunzip (hand-built stored deflate blocks, a real gzip golden and
// corruptions of both), IDX parsing and its errors, the Fashion-MNIST loader on the installed
// Debian package, and the CHW transforms (normalize, crop with padding, flip).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "data/fashion_mnist.h"
#include "data/gzip.h"
#include "data/idx.h"
#include "data/transforms.h"
#include "tests/temp_dir.h"

using Bytes = std::vector<uint8_t>;

namespace {

void append_le(Bytes& out, uint64_t value, int size) {
  for (int i = 0; i < size; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

void append_be32(Bytes& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(value >> shift));
}

// A gzip member whose deflate stream is one final stored block (BFINAL=1, BTYPE=00).
// With all_flags, the header also carries FEXTRA, FNAME, FCOMMENT and a header CRC.
Bytes make_stored_gzip(const Bytes& payload, bool all_flags = false) {
  Bytes gz = {0x1f, 0x8b, 8, all_flags ? uint8_t{0x1E} : uint8_t{0}, 0, 0, 0, 0, 0, 3};
  if (all_flags) {
    append_le(gz, 4, 2);  // XLEN, then 4 bytes of extra field
    for (uint8_t b : {0x41, 0x42, 0x02, 0x00}) gz.push_back(b);  // subfield "AB", 2 bytes
    for (char c : std::string("name.idx")) gz.push_back(static_cast<uint8_t>(c));
    gz.push_back(0);
    for (char c : std::string("a comment")) gz.push_back(static_cast<uint8_t>(c));
    gz.push_back(0);
    append_le(gz, nwq::crc32(gz.data(), gz.size()) & 0xFFFF, 2);
  }
  gz.push_back(0x01);  // bit 0: BFINAL, bits 1-2: BTYPE 00; the rest of the byte is padding
  append_le(gz, payload.size(), 2);            // LEN
  append_le(gz, ~payload.size() & 0xFFFF, 2);  // NLEN
  gz.insert(gz.end(), payload.begin(), payload.end());
  append_le(gz, nwq::crc32(payload.data(), payload.size()), 4);
  append_le(gz, payload.size(), 4);
  return gz;
}

// `gzip -9` of "hello hello hello hello nwq\n" named hello.txt: fixed-Huffman codes with matches.
const Bytes kHelloGz = {0x1f, 0x8b, 0x08, 0x08, 0x00, 0xe1, 0x0b, 0x5e, 0x02, 0x03, 0x68, 0x65,
                        0x6c, 0x6c, 0x6f, 0x2e, 0x74, 0x78, 0x74, 0x00, 0xcb, 0x48, 0xcd, 0xc9,
                        0xc9, 0x57, 0xc8, 0xc0, 0x20, 0xf3, 0xca, 0x0b, 0xb9, 0x00, 0x58, 0xc2,
                        0x0e, 0xe5, 0x1c, 0x00, 0x00, 0x00};
const std::string kHelloText = "hello hello hello hello nwq\n";

Bytes to_bytes(const std::string& text) { return Bytes(text.begin(), text.end()); }

// Runs f, which must throw nwq::Error, and returns the message.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const nwq::Error& e) {
    return e.what();
  }
  FAIL("expected nwq::Error");
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

Bytes make_idx(uint8_t type, const std::vector<uint32_t>& dims, size_t data_size) {
  Bytes out = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) append_be32(out, d);
  for (size_t i = 0; i < data_size; ++i) out.push_back(static_cast<uint8_t>(i * 7));
  return out;
}

}  // namespace

TEST_CASE("gzip: crc32 check value") {
  const Bytes digits = to_bytes("123456789");
  CHECK(nwq::crc32(digits.data(), digits.size()) == 0xCBF43926u);
  // Continuing over two pieces gives the same result as one pass.
  CHECK(nwq::crc32(digits.data() + 4, 5, nwq::crc32(digits.data(), 4)) == 0xCBF43926u);
  CHECK(nwq::crc32(nullptr, 0) == 0u);
}

TEST_CASE("gzip: stored deflate blocks round-trip, with and without optional header fields") {
  const Bytes payload = to_bytes("nwq stored block payload \x01\x02\xff");
  CHECK(nwq::gunzip(make_stored_gzip(payload), "plain") == payload);
  CHECK(nwq::gunzip(make_stored_gzip(payload, true), "flags") == payload);
  CHECK(nwq::gunzip(make_stored_gzip({}), "empty").empty());
}

TEST_CASE("gzip: a real gzip file (Huffman codes, FNAME) decodes") {
  CHECK(nwq::gunzip(kHelloGz, "hello.gz") == to_bytes(kHelloText));
}

TEST_CASE("gzip: a stream whose last code ends near the input end decodes (stb issue #1456)") {
  // `gzip -9 -n` of "Ankle boot". Handing stb only the deflate bytes (no trailer after them)
  // makes it fail with "bad huffman code"; gunzip must pass the trailer along as lookahead.
  const Bytes ankle_boot_gz = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03,
                               0x73, 0xcc, 0xcb, 0xce, 0x49, 0x55, 0x48, 0xca, 0xcf, 0x2f,
                               0x01, 0x00, 0x97, 0x04, 0x95, 0x39, 0x0a, 0x00, 0x00, 0x00};
  CHECK(nwq::gunzip(ankle_boot_gz, "ankle.gz") == to_bytes("Ankle boot"));
}

TEST_CASE("gzip: bad input gives errors that name the file and the problem") {
  const Bytes payload = to_bytes("some payload bytes");
  const Bytes good = make_stored_gzip(payload);
  CHECK(contains(error_of([] { nwq::gunzip(to_bytes("PK\x03\x04 zip"), "x.gz"); }),
                 "x.gz: not a gzip file"));
  CHECK(contains(error_of([] { nwq::gunzip({0x1f, 0x8b, 8, 0}, "x.gz"); }), "truncated"));
  Bytes bad = good;
  bad[bad.size() - 8] ^= 0x01;  // trailer CRC
  CHECK(contains(error_of([&] { nwq::gunzip(bad, "x.gz"); }), "CRC mismatch"));
  bad = good;
  bad[bad.size() - 12] ^= 0x20;  // a payload byte
  CHECK(contains(error_of([&] { nwq::gunzip(bad, "x.gz"); }), "CRC mismatch"));
  bad = good;
  bad[2] = 7;  // compression method
  CHECK(contains(error_of([&] { nwq::gunzip(bad, "x.gz"); }), "compression method"));
  bad = make_stored_gzip(payload, true);
  bad[12] ^= 0xFF;  // inside the extra field, covered by the header CRC
  CHECK(contains(error_of([&] { nwq::gunzip(bad, "x.gz"); }), "header CRC"));
  bad = good;
  bad[bad.size() - 4] -= 1;  // ISIZE one short: the stream does not fit
  CHECK(contains(error_of([&] { nwq::gunzip(bad, "x.gz"); }), "x.gz: corrupt or truncated"));
  bad = good;
  bad[bad.size() - 4] += 1;  // ISIZE one long
  CHECK(contains(error_of([&] { nwq::gunzip(bad, "x.gz"); }), "trailer says"));
  bad = good;
  bad[bad.size() - 1] = 0x7F;  // ISIZE ~2 GiB from a few bytes
  CHECK(contains(error_of([&] { nwq::gunzip(bad, "x.gz"); }), "truncated or corrupt"));
}

TEST_CASE("gzip: every truncation throws; every byte flip throws or changes nothing") {
  for (size_t size = 0; size < kHelloGz.size(); ++size) {
    const Bytes cut(kHelloGz.begin(), kHelloGz.begin() + static_cast<std::ptrdiff_t>(size));
    CHECK_THROWS_AS(nwq::gunzip(cut, "cut.gz"), nwq::Error);
  }
  for (size_t pos = 0; pos < kHelloGz.size(); ++pos) {
    Bytes flipped = kHelloGz;
    flipped[pos] ^= 0xFF;
    Bytes result;
    bool threw = false;
    try {
      result = nwq::gunzip(flipped, "flip.gz");
    } catch (const nwq::Error&) {
      threw = true;
    }
    // Only bytes the format leaves unchecked (mtime, XFL, OS, the name) may decode at all.
    if (!threw) CHECK(result == to_bytes(kHelloText));
  }
}

TEST_CASE("idx: valid uint8 arrays parse") {
  const nwq::IdxArray images = nwq::parse_idx(make_idx(0x08, {2, 3, 4}, 24), "img");
  CHECK(images.dims == std::vector<int64_t>{2, 3, 4});
  REQUIRE(images.data.size() == 24);
  CHECK(images.data[5] == 35);
  const nwq::IdxArray labels = nwq::parse_idx(make_idx(0x08, {5}, 5), "lab");
  CHECK(labels.dims == std::vector<int64_t>{5});
  CHECK(labels.data.size() == 5);
  const nwq::IdxArray empty = nwq::parse_idx(make_idx(0x08, {0, 28, 28}, 0), "empty");
  CHECK(empty.dims == std::vector<int64_t>{0, 28, 28});
  CHECK(empty.data.empty());
}

TEST_CASE("idx: header and size errors") {
  auto message = [](const Bytes& bytes) { return error_of([&] { nwq::parse_idx(bytes, "f.idx"); }); };
  Bytes bad = make_idx(0x08, {3}, 3);
  bad[1] = 0x01;
  CHECK(contains(message(bad), "f.idx: not an IDX file (bad magic"));
  CHECK(contains(message(make_idx(0x0D, {3}, 12)), "unsupported IDX element type 0x0d (float)"));
  CHECK(contains(message(make_idx(0x42, {3}, 3)), "unknown type code 0x42"));
  CHECK(contains(message(make_idx(0x08, {}, 0)), "zero dimensions"));
  CHECK(contains(message({0, 0, 8}), "truncated IDX file"));
  Bytes short_header = make_idx(0x08, {2, 2, 2}, 0);
  short_header.resize(10);
  CHECK(contains(message(short_header), "truncated IDX header"));
  CHECK(contains(message(make_idx(0x08, {2, 3, 4}, 23)), "truncated IDX data"));
  CHECK(contains(message(make_idx(0x08, {2, 3, 4}, 25)), "1 trailing bytes"));
  // Dims whose product overflows 64 bits must not wrap around to a small size.
  CHECK(contains(message(make_idx(0x08, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, 16)), "truncated"));
  CHECK(contains(message(make_idx(0x08, {65536, 65536, 65536, 65536}, 0)), "truncated"));
}

TEST_CASE("idx: read_idx_file reads raw and gzipped files and names missing ones") {
  nwq::test::TempDir dir;
  const Bytes idx = make_idx(0x08, {2, 5}, 10);
  const std::string raw_path = dir / "raw.idx", gz_path = dir / "stored.idx.gz";
  std::ofstream(raw_path, std::ios::binary).write(reinterpret_cast<const char*>(idx.data()),
                                                  static_cast<std::streamsize>(idx.size()));
  const Bytes gz = make_stored_gzip(idx);
  std::ofstream(gz_path, std::ios::binary)
      .write(reinterpret_cast<const char*>(gz.data()), static_cast<std::streamsize>(gz.size()));
  CHECK(nwq::read_idx_file(raw_path).data == nwq::parse_idx(idx, "x").data);
  CHECK(nwq::read_idx_file(gz_path).dims == std::vector<int64_t>{2, 5});
  std::filesystem::remove(raw_path);
  CHECK(contains(error_of([&] { nwq::read_idx_file(raw_path); }), raw_path + ": cannot open"));
}

TEST_CASE("fashion-mnist: the test split loads with 1000 images per class") {
  if (!std::filesystem::exists(nwq::kFashionMnistDir)) {
    MESSAGE("skipped: ", nwq::kFashionMnistDir, " is absent (apt-get install dataset-fashion-mnist)");
    return;
  }
  const nwq::ImageDataset test = nwq::load_fashion_mnist("test");
  CHECK(test.count == 10000);
  CHECK(test.channels == 1);
  CHECK(test.height == 28);
  CHECK(test.width == 28);
  REQUIRE(test.pixels.size() == size_t{10000} * 28 * 28);
  REQUIRE(test.labels.size() == 10000);
  std::vector<int> per_class(10, 0);
  for (int64_t label : test.labels) {
    REQUIRE(label >= 0);
    REQUIRE(label < 10);
    ++per_class[label];
  }
  for (int count : per_class) CHECK(count == 1000);
  CHECK(test.num_classes == 10);
  REQUIRE(test.class_names.size() == 10);
  CHECK(test.class_names[0] == "T-shirt/top");
  CHECK(test.class_names[9] == "Ankle boot");
  // Golden values from Python's gzip module: first labels and pixel sums.
  CHECK(std::vector<int64_t>(test.labels.begin(), test.labels.begin() + 5) ==
        std::vector<int64_t>{9, 2, 1, 1, 6});
  uint64_t first_sum = 0, total = 0;
  for (size_t i = 0; i < test.pixels.size(); ++i) (i < 784 ? first_sum : total) += test.pixels[i];
  CHECK(first_sum == 33456);
  CHECK(first_sum + total == 573469082);
}

TEST_CASE("fashion-mnist: the train split loads with 6000 images per class") {
  if (!std::filesystem::exists(nwq::kFashionMnistDir)) {
    MESSAGE("skipped: ", nwq::kFashionMnistDir, " is absent (apt-get install dataset-fashion-mnist)");
    return;
  }
  const nwq::ImageDataset train = nwq::load_fashion_mnist("train");
  CHECK(train.count == 60000);
  CHECK(train.pixels.size() == size_t{60000} * 28 * 28);
  std::vector<int> per_class(10, 0);
  for (int64_t label : train.labels) ++per_class[label];
  for (int count : per_class) CHECK(count == 6000);
  // The documented normalization constants are the statistics of these pixels.
  double sum = 0, sum_sq = 0;
  for (uint8_t p : train.pixels) {
    sum += p / 255.0;
    sum_sq += (p / 255.0) * (p / 255.0);
  }
  const double mean = sum / train.pixels.size();
  CHECK(mean == doctest::Approx(nwq::kFashionMnistMean).epsilon(1e-3));
  CHECK(std::sqrt(sum_sq / train.pixels.size() - mean * mean) ==
        doctest::Approx(nwq::kFashionMnistStd).epsilon(1e-3));
}

TEST_CASE("fashion-mnist: missing directory and bad split give clear errors") {
  const std::string message =
      error_of([] { nwq::load_fashion_mnist("test", "/nonexistent/nwq-fmnist"); });
  CHECK(contains(message, "/nonexistent/nwq-fmnist/t10k-images-idx3-ubyte.gz"));
  CHECK(contains(message, "apt-get install dataset-fashion-mnist"));
  CHECK(contains(error_of([] { nwq::load_fashion_mnist("val"); }), "\"val\""));
}

TEST_CASE("transforms: normalization matches (x / 255 - mean) / std per channel") {
  const uint8_t src[4] = {0, 255, 51, 102};  // C=2, H=1, W=2
  const float mean[2] = {0.5f, 0.2f}, stddev[2] = {0.25f, 0.5f};
  float dst[4];
  nwq::to_float_normalized(src, dst, 2, 1, 2, mean, stddev);
  CHECK(dst[0] == doctest::Approx(-2.0f));
  CHECK(dst[1] == doctest::Approx(2.0f));
  CHECK(dst[2] == doctest::Approx(0.0f).epsilon(1e-6));
  CHECK(dst[3] == doctest::Approx(0.4f));
  const float zero_std[2] = {1.0f, 0.0f};
  CHECK_THROWS_AS(nwq::to_float_normalized(src, dst, 2, 1, 2, mean, zero_std), nwq::Error);
}

namespace {

// Reference crop: build the padded image explicitly, then slice the window.
std::vector<float> reference_crop(const std::vector<float>& src, int C, int H, int W, int pad,
                                  int dy, int dx) {
  const int PH = H + 2 * pad, PW = W + 2 * pad;
  std::vector<float> padded(static_cast<size_t>(C) * PH * PW, 0.0f), out;
  for (int c = 0; c < C; ++c)
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x)
        padded[(c * PH + y + pad) * PW + x + pad] = src[(c * H + y) * W + x];
  for (int c = 0; c < C; ++c)
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) out.push_back(padded[(c * PH + y + dy) * PW + x + dx]);
  return out;
}

std::vector<float> ramp(size_t n) {
  std::vector<float> values(n);
  for (size_t i = 0; i < n; ++i) values[i] = static_cast<float>(i + 1);
  return values;
}

}  // namespace

TEST_CASE("transforms: crop with offset shifts correctly and pad 0 is the identity") {
  const std::vector<float> img = ramp(9);  // 1x3x3: 1 2 3 / 4 5 6 / 7 8 9
  std::vector<float> out(9);
  nwq::crop_with_offset(img.data(), out.data(), 1, 3, 3, 0, 0, 0);
  CHECK(out == img);
  nwq::crop_with_offset(img.data(), out.data(), 1, 3, 3, 1, 0, 0);  // image moves down-right
  CHECK(out == std::vector<float>{0, 0, 0, 0, 1, 2, 0, 4, 5});
  nwq::crop_with_offset(img.data(), out.data(), 1, 3, 3, 1, 2, 1);  // up by one
  CHECK(out == std::vector<float>{4, 5, 6, 7, 8, 9, 0, 0, 0});
  nwq::crop_with_offset(img.data(), out.data(), 1, 3, 3, 1, 1, 1);
  CHECK(out == img);
  CHECK_THROWS_AS(nwq::crop_with_offset(img.data(), out.data(), 1, 3, 3, 1, 3, 0), nwq::Error);
  CHECK_THROWS_AS(nwq::crop_with_offset(img.data(), out.data(), 1, 3, 3, -1, 0, 0), nwq::Error);
}

TEST_CASE("transforms: crop matches an explicit pad-then-slice for every offset") {
  const int C = 2, H = 3, W = 5;
  const std::vector<float> img = ramp(C * H * W);
  std::vector<float> out(img.size());
  for (int pad : {1, 2, 4, 7}) {  // 7 is larger than the image: some windows are all zeros
    for (int dy = 0; dy <= 2 * pad; ++dy) {
      for (int dx = 0; dx <= 2 * pad; ++dx) {
        nwq::crop_with_offset(img.data(), out.data(), C, H, W, pad, dy, dx);
        REQUIRE(out == reference_crop(img, C, H, W, pad, dy, dx));
      }
    }
  }
}

TEST_CASE("transforms: random crop draws dy then dx in [0, 2*pad]") {
  const int C = 1, H = 4, W = 4, pad = 2;
  const std::vector<float> img = ramp(16);
  std::vector<float> out(16), want(16);
  nwq::Rng rng(3);
  for (int i = 0; i < 50; ++i) {
    nwq::Rng replay = rng;
    const int dy = static_cast<int>(replay.randint(2 * pad + 1));
    const int dx = static_cast<int>(replay.randint(2 * pad + 1));
    nwq::random_crop_with_padding(img.data(), out.data(), C, H, W, pad, rng);
    nwq::crop_with_offset(img.data(), want.data(), C, H, W, pad, dy, dx);
    REQUIRE(out == want);
    REQUIRE(rng.state() == replay.state());
  }
  nwq::random_crop_with_padding(img.data(), out.data(), C, H, W, 0, rng);
  CHECK(out == img);
}

TEST_CASE("transforms: horizontal flip mirrors rows; twice is the identity; maybe_flip is fair") {
  const std::vector<float> img = ramp(12);  // 2x2x3
  std::vector<float> work = img;
  nwq::horizontal_flip(work.data(), 2, 2, 3);
  CHECK(work == std::vector<float>{3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10});
  nwq::horizontal_flip(work.data(), 2, 2, 3);
  CHECK(work == img);
  nwq::Rng rng(8);
  int flips = 0;
  for (int i = 0; i < 10000; ++i) {
    std::copy(img.begin(), img.end(), work.begin());  // (not operator=: GCC 12 -O3 false warning)
    const bool flipped = nwq::maybe_flip(work.data(), 2, 2, 3, rng);
    REQUIRE((work == img) != flipped);
    flips += flipped;
  }
  CHECK(flips == doctest::Approx(5000).epsilon(0.05));  // sd 50
}
