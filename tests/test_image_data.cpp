// Image data tests: resize / crop / the ImageNet evaluation transform against torchvision goldens
// (tests/golden/make_image_goldens.py), RandomResizedCrop boxes, the CIFAR-10 binary reader and
// its errors, cifar10:DIR layout detection, and the calibration sampler.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/safetensors.h"
#include "data/calibration.h"
#include "data/cifar10.h"
#include "data/image_pipeline.h"
#include "data/image_transforms.h"
#include "data/sources.h"
#include "tests/helpers.h"
#include "tests/image_test_util.h"

using namespace nwq;
using nwq::test::TempDir;
using nwq::test::write_bytes;

namespace {

const SafetensorsFile& goldens() {
  static const SafetensorsFile file = read_safetensors(test::golden_path("images.safetensors"));
  return file;
}

std::vector<float> golden_floats(const std::string& name) {
  const SafetensorsEntry* e = goldens().find(name);
  REQUIRE_MESSAGE(e != nullptr, name);
  REQUIRE(e->dtype == DType::F32);
  std::vector<float> values((e->end - e->begin) / 4);
  std::memcpy(values.data(), goldens().data(*e), e->end - e->begin);
  return values;
}

Image8 golden_image(const std::string& name) {
  const SafetensorsEntry* e = goldens().find(name);
  REQUIRE_MESSAGE(e != nullptr, name);
  REQUIRE(e->dtype == DType::U8);
  REQUIRE(e->shape.size() == 3);
  const uint8_t* data = goldens().data(*e);
  return {e->shape[0], e->shape[1], e->shape[2],
          std::vector<uint8_t>(data, data + e->end - e->begin)};
}

// torchvision's ToTensor: uint8 HWC -> float CHW in [0, 1].
std::vector<float> to_tensor(const Image8& image) {
  std::vector<float> out(image.pixels.size());
  const std::vector<float> zero(image.channels, 0.0f), one(image.channels, 1.0f);
  image_to_chw_normalized(image, zero.data(), one.data(), out.data());
  return out;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  float worst = 0.0f;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

// Exact agreement with a torchvision golden (ToTensor of PIL's 8-bit result).
void check_golden(const Image8& image, const char* name) {
  CHECK_MESSAGE(max_abs_diff(to_tensor(image), golden_floats(name)) == 0.0f, name);
}

// The 260 x 300 input of the eval golden; the same formula as pattern_image() in the script.
Image8 pattern_image(int64_t height, int64_t width) {
  Image8 image{height, width, 3, std::vector<uint8_t>(height * width * 3)};
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x = 0; x < width; ++x)
      for (int64_t c = 0; c < 3; ++c) {
        int64_t v = x * 7 + y * 3 + c * 85 + ((x * y) >> 5) + ((x / 16 + y / 16) % 2) * 100;
        image.pixels[(y * width + x) * 3 + c] = static_cast<uint8_t>(v % 256);
      }
  return image;
}

std::vector<uint8_t> cifar_record(uint8_t label, uint8_t fill) {
  std::vector<uint8_t> r(kCifar10RecordBytes, fill);
  r[0] = label;
  for (int64_t i = 1; i < kCifar10RecordBytes; ++i) r[i] = static_cast<uint8_t>(fill + i % 7);
  return r;
}

std::vector<uint8_t> concat(std::vector<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

}  // namespace

TEST_CASE("image data: antialiased resize and center crop equal torchvision's PIL output") {
  const Image8 small = golden_image("small.image");
  REQUIRE(small.height == 37);
  REQUIRE(small.width == 53);
  // PIL resizes in 8-bit fixed point, and so does resize_bilinear: the bytes must agree exactly.
  const Image8 r20 = resize_shorter_side(small, 20);
  CHECK(r20.height == 20);
  CHECK(r20.width == 28);
  check_golden(r20, "small.resize20");
  check_golden(center_crop(r20, 16, 16), "small.resize20.crop16");
  check_golden(center_crop(r20, 15, 15), "small.resize20.crop15");
  check_golden(center_crop(r20, 25, 20), "small.resize20.crop25x20");
  check_golden(resize_shorter_side(small, 50), "small.resize50");
  check_golden(resize_bilinear(small, 9, 40), "small.resize9x40");
  check_golden(resize_bilinear(crop(small, {3, 5, 30, 41}), 24, 24), "small.resized_crop");
}

TEST_CASE("image data: float CHW resize is within one 8-bit level of PIL's") {
  // PIL rounds to 8 bits after each pass; the float path does not. Each rounding moves a value
  // by at most half a level and the (non-negative, normalized) vertical weights do not amplify
  // the first one, so the two differ by at most 1/255.
  const Image8 small = golden_image("small.image");
  const std::vector<float> src = to_tensor(small);
  struct Case {
    int64_t h, w;
    const char* golden;
  };
  for (const Case& c : {Case{20, 28, "small.resize20"}, Case{50, 71, "small.resize50"},
                        Case{9, 40, "small.resize9x40"}}) {
    std::vector<float> out(3 * c.h * c.w);
    resize_bilinear_chw(src.data(), 3, 37, 53, out.data(), c.h, c.w);
    const float diff = max_abs_diff(out, golden_floats(c.golden));
    CAPTURE(c.golden);
    CHECK(diff <= 1.0f / 255.0f + 1e-6f);
    CHECK(diff > 0.0f);  // it really is the unrounded path
  }
}

TEST_CASE("image data: ImageNet evaluation pipeline equals torchvision's transform") {
  // Resize(256) -> 256 x 295, CenterCrop(224) at (16, 36), ToTensor, Normalize.
  const Image8 expected_crop = golden_image("eval.crop");
  std::vector<float> expected(3 * 224 * 224), got(3 * 224 * 224);
  image_to_chw_normalized(expected_crop, kImageNetMean, kImageNetStd, expected.data());
  Rng rng(1);
  apply_pipeline(imagenet_eval_pipeline(), pattern_image(260, 300), got.data(), rng);
  CHECK(max_abs_diff(got, expected) == 0.0f);
  CHECK(imagenet_eval_pipeline().output_size(260, 300).height == 224);
}

TEST_CASE("image data: resize weights, output sizes and crop boxes follow torchvision") {
  const ResizeWeights same = bilinear_resize_weights(7, 7);
  for (int64_t i = 0; i < 7; ++i) CHECK((same.first[i] == i && same.weights[i * same.taps] == 1.0));
  for (auto [in, out] : {std::pair<int64_t, int64_t>{53, 20}, {37, 50}, {500, 256}}) {
    const ResizeWeights rw = bilinear_resize_weights(in, out);
    for (int64_t i = 0; i < out; ++i) {
      double sum = 0.0;
      for (int64_t k = 0; k < rw.count[i]; ++k) sum += rw.weights[i * rw.taps + k];
      CHECK(sum == doctest::Approx(1.0).epsilon(1e-12));
      CHECK(rw.first[i] + rw.count[i] <= in);
    }
  }
  CHECK(shorter_side_size(260, 300, 256).width == 295);
  CHECK(shorter_side_size(300, 260, 256).height == 295);
  CHECK(shorter_side_size(500, 375, 256).height == 341);  // int(256 * 500 / 375) = int(341.33)
  CHECK(shorter_side_size(64, 64, 32).width == 32);
  // Offsets 2.5 and 6.5 round to even (Python's round), padding centres with the extra row below.
  const CropBox half = center_crop_box(20, 28, 15, 15);
  CHECK((half.top == 2 && half.left == 6));
  const CropBox padded = center_crop_box(20, 28, 25, 20);
  CHECK((padded.top == -2 && padded.left == 4));
  CHECK_THROWS_AS(crop(Image8{2, 2, 3, std::vector<uint8_t>(12)}, {0, 0, 0, 2}), Error);
}

TEST_CASE("image data: RandomResizedCrop boxes are seeded, in range, else a centre crop") {
  const ResizedCropRange range;
  for (uint64_t seed = 0; seed < 300; ++seed) {
    Rng a(seed), b(seed);
    const CropBox box = random_resized_crop_box(180, 240, range, a);
    const CropBox again = random_resized_crop_box(180, 240, range, b);
    CHECK((box.top == again.top && box.left == again.left && box.height == again.height &&
           box.width == again.width));
    CHECK((box.top >= 0 && box.left >= 0 && box.top + box.height <= 180 &&
           box.left + box.width <= 240));
    const double fraction = double(box.height * box.width) / (180.0 * 240.0);
    CHECK((fraction > 0.07 && fraction <= 1.0));
    const double aspect = double(box.width) / double(box.height);
    CHECK((aspect > 0.7 && aspect < 1.45));  // 3/4 .. 4/3 up to rounding of small boxes
  }
  ResizedCropRange impossible;  // no draw can fit: the centred fallback of torchvision
  impossible.scale_min = 2.0;
  impossible.scale_max = 3.0;
  Rng rng(5);
  const CropBox wide = random_resized_crop_box(100, 300, impossible, rng);  // ratio 3 > 4/3
  CHECK((wide.height == 100 && wide.width == 133 && wide.top == 0 && wide.left == 83));
  const CropBox tall = random_resized_crop_box(300, 100, impossible, rng);  // ratio 1/3 < 3/4
  CHECK((tall.width == 100 && tall.height == 133 && tall.top == 83 && tall.left == 0));

  // The training pipeline: fixed 3 x 224 x 224 output, same rng -> same sample.
  const ImagePipeline train = imagenet_train_pipeline();
  std::vector<float> x(3 * 224 * 224), y(3 * 224 * 224), z(3 * 224 * 224);
  Rng r1(9), r2(9), r3(10);
  apply_pipeline(train, pattern_image(260, 300), x.data(), r1);
  apply_pipeline(train, pattern_image(260, 300), y.data(), r2);
  apply_pipeline(train, pattern_image(260, 300), z.data(), r3);
  CHECK(x == y);
  CHECK(x != z);
}

TEST_CASE("image data: CIFAR-10 binary batches are read as CHW records, with clear errors") {
  TempDir dir;
  write_bytes(dir / "two.bin", concat({cifar_record(3, 10), cifar_record(9, 200)}));
  const ImageDataset d = read_cifar10_batches({dir / "two.bin"});
  CHECK(d.count == 2);
  CHECK((d.channels == 3 && d.height == 32 && d.width == 32 && d.num_classes == 10));
  CHECK(d.labels == std::vector<int64_t>{3, 9});
  CHECK(d.pixels.size() == 2 * 3072);
  CHECK(d.pixels[0] == static_cast<uint8_t>(10 + 1 % 7));
  CHECK(d.pixels[3072 + 1023] == static_cast<uint8_t>(200 + 1024 % 7));  // last red of image 2
  CHECK(d.class_names[3] == "cat");

  auto fails_with = [&](const std::string& file, const std::string& needle) {
    CHECK_THROWS_WITH_AS(read_cifar10_batches({dir / file}), doctest::Contains(needle.c_str()),
                         Error);
  };
  fails_with("missing.bin", "missing.bin");
  write_bytes(dir / "empty.bin", {});
  fails_with("empty.bin", "empty");
  std::vector<uint8_t> cut = cifar_record(1, 0);
  cut.pop_back();
  write_bytes(dir / "cut.bin", cut);
  fails_with("cut.bin", "not a multiple of the 3073");
  write_bytes(dir / "c100.bin", std::vector<uint8_t>(2 * 3074, 1));
  fails_with("c100.bin", "CIFAR-100");
  write_bytes(dir / "label.bin", concat({cifar_record(2, 0), cifar_record(10, 0)}));
  fails_with("label.bin", "record 1 has label 10");

  write_bytes(dir / "b/test_batch.bin", cifar_record(0, 0));
  CHECK(find_cifar10_binary_dir(dir / "b") == dir / "b");
  CHECK_THROWS_WITH_AS(load_cifar10_binary(dir / "b", "train"),
                       doctest::Contains("data_batch_1.bin"), Error);
  write_bytes(dir / "nested/cifar-10-batches-bin/data_batch_1.bin", cifar_record(0, 0));
  CHECK(find_cifar10_binary_dir(dir / "nested") == dir / "nested/cifar-10-batches-bin");
  CHECK(find_cifar10_binary_dir(dir.path()).empty());
}

TEST_CASE("image data: open_data detects cifar10:DIR as binary batches or an ImageFolder") {
  TempDir bin, folder, neither;
  for (int i = 1; i <= 5; ++i)
    write_bytes(bin / ("cifar-10-batches-bin/data_batch_" + std::to_string(i) + ".bin"),
                cifar_record(static_cast<uint8_t>(i), 0));
  write_bytes(bin / "cifar-10-batches-bin/test_batch.bin",
              concat({cifar_record(1, 0), cifar_record(2, 0)}));
  DataSplits b = open_data("cifar10:" + bin.path(), true);
  CHECK(b.name == "cifar10");
  CHECK(b.source.find("binary") != std::string::npos);
  CHECK((b.train->size() == 5 && b.test->size() == 2));
  CHECK((b.channels == 3 && b.height == 32 && b.width == 32 && b.num_classes == 10));

  for (const std::string& cls : cifar10_class_names()) {
    test::write_png(folder / ("train/" + cls + "/0.png"), test::numbered_image(32, 32, 3, 1));
    test::write_png(folder / ("test/" + cls + "/0.png"), test::numbered_image(32, 32, 3, 2));
  }
  DataSplits f = open_data("cifar10:" + folder.path(), false);
  CHECK(f.source.find("ImageFolder") != std::string::npos);
  CHECK((f.train->size() == 10 && f.test->size() == 10 && f.num_classes == 10));
  CHECK(f.class_names == cifar10_class_names());
  CHECK_THROWS_WITH_AS(open_data("cifar10:" + neither.path(), false),
                       doctest::Contains("neither CIFAR-10 binary batches"), Error);
  CHECK_THROWS_WITH_AS(open_data("cifar10:" + neither.path() + "/nope", false),
                       doctest::Contains("folder not found"), Error);
  CHECK_THROWS_WITH_AS(open_data("mnist", false), doctest::Contains("unknown data set"), Error);
  CHECK_THROWS_WITH_AS(open_data("imagenet", false), doctest::Contains("imagenet:DIR"), Error);
}

TEST_CASE("image data: calibration indices are distinct, seeded and nested") {
  const std::vector<int64_t> a = calibration_indices(1000, 64, 7);
  CHECK(a == calibration_indices(1000, 64, 7));
  CHECK(a != calibration_indices(1000, 64, 8));
  CHECK(std::set<int64_t>(a.begin(), a.end()).size() == 64);
  for (int64_t i : a) CHECK((i >= 0 && i < 1000));
  const std::vector<int64_t> more = calibration_indices(1000, 200, 7);
  CHECK(std::equal(a.begin(), a.end(), more.begin()));  // a larger set extends a smaller one
  std::vector<int64_t> all = calibration_indices(50, 50, 1);
  std::sort(all.begin(), all.end());
  for (int64_t i = 0; i < 50; ++i) CHECK(all[i] == i);
  CHECK_THROWS_WITH_AS(calibration_indices(10, 11, 0), doctest::Contains("--calib"), Error);
  CHECK_THROWS_WITH_AS(calibration_indices(10, 0, 0), doctest::Contains("--calib"), Error);
}

TEST_CASE("image data: SubsetDataset shows the chosen samples with the base's transform") {
  ImageDataset d;
  d.count = 6;
  d.channels = 1;
  d.height = d.width = 2;
  d.num_classes = 3;
  for (int64_t i = 0; i < 6; ++i) {
    d.pixels.insert(d.pixels.end(), 4, static_cast<uint8_t>(10 * i));
    d.labels.push_back(i % 3);
  }
  ImageTransform plain;
  plain.mean = {0.0f};
  plain.std = {1.0f / 255.0f};  // the raw pixel value
  auto base = std::make_shared<InMemoryImageDataset>(d, plain);
  std::unique_ptr<SubsetDataset> subset = calibration_subset(base, 4, 3);
  CHECK(subset->size() == 4);
  CHECK(subset->sample_shape() == std::vector<int64_t>{1, 2, 2});
  for (int64_t i = 0; i < 4; ++i) {
    const int64_t source = subset->indices()[i];
    float pixel[4];
    Rng rng(0);
    subset->get(i, pixel, rng);
    CHECK(pixel[0] == doctest::Approx(10.0 * source));
    CHECK(subset->label(i) == source % 3);
  }
  CHECK_THROWS_AS(subset->label(4), Error);
  CHECK_THROWS_AS(SubsetDataset(base, {6}), Error);
}
