// ImageFolder tests on small trees written by the tests (PNG and JPEG via stb_image_write): class
// and file order, exact lazy decoding, grey/RGBA to RGB, bad-file policies, folder errors,
// in-memory decoding, and the folder:/imagenet: specs of open_data.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/image_folder.h"
#include "data/loader.h"
#include "data/sources.h"
#include "tests/image_test_util.h"

using namespace nwq;
using nwq::test::numbered_image;
using nwq::test::TempDir;
using nwq::test::write_bytes;
using nwq::test::write_png;

namespace {

const std::vector<uint8_t> kGarbage = {'n', 'o', 't', ' ', 'a', 'n', ' ', 'i', 'm', 'a', 'g', 'e'};

Image8 flat_image(int64_t h, int64_t w, std::vector<uint8_t> rgb) {
  Image8 image{h, w, 3, {}};
  for (int64_t i = 0; i < h * w; ++i)
    image.pixels.insert(image.pixels.end(), rgb.begin(), rgb.end());
  return image;
}

// Zebra/{B.PNG, a.png}, a_class/{grey.png, rgba.png, sub/deep.png}, b_class/photo.jpg, plus a
// text file and a hidden folder that must be ignored. Every image is 6 x 5.
void make_tree(const TempDir& dir) {
  write_png(dir / "Zebra/a.png", numbered_image(6, 5, 3, 1));
  write_png(dir / "Zebra/B.PNG", numbered_image(6, 5, 3, 2));
  write_png(dir / "a_class/grey.png", numbered_image(6, 5, 1, 3));
  write_png(dir / "a_class/rgba.png", numbered_image(6, 5, 4, 5));
  write_png(dir / "a_class/sub/deep.png", numbered_image(6, 5, 3, 4));
  test::write_jpg(dir / "b_class/photo.jpg", flat_image(6, 5, {100, 150, 200}));
  write_bytes(dir / "b_class/notes.txt", {'h', 'i'});
  write_png(dir / ".hidden/x.png", numbered_image(6, 5, 3, 9));
}

// Pipeline that hands back raw pixel values: x/255 normalized with mean 0, std 1/255.
ImagePipeline raw_pipeline() {
  ImagePipeline p;
  p.mean = {0.0f, 0.0f, 0.0f};
  p.std = {1.0f / 255.0f, 1.0f / 255.0f, 1.0f / 255.0f};
  return p;
}

std::vector<float> sample(const Dataset& d, int64_t index) {
  std::vector<int64_t> shape = d.sample_shape();
  std::vector<float> out(shape[0] * shape[1] * shape[2]);
  Rng rng(0);
  d.get(index, out.data(), rng);
  return out;
}

// Pixel (y, x) of channel c from `source_c` of a numbered image, in CHW float form.
float numbered(int seed, int64_t y, int64_t x, int64_t c) {
  return static_cast<float>((seed * 37 + y * 11 + x * 5 + c * 70) % 256);
}

}  // namespace

TEST_CASE("image folder: classes sorted by name, files in torchvision's order, others ignored") {
  TempDir dir;
  make_tree(dir);
  const ImageFolderIndex index = scan_image_folder(dir.path());
  CHECK(index.class_names == std::vector<std::string>{"Zebra", "a_class", "b_class"});
  std::vector<std::string> files;
  for (const std::string& f : index.files) files.push_back(f.substr(dir.path().size() + 1));
  CHECK(files == std::vector<std::string>{"Zebra/B.PNG", "Zebra/a.png", "a_class/grey.png",
                                          "a_class/rgba.png", "a_class/sub/deep.png",
                                          "b_class/photo.jpg"});
  CHECK(index.labels == std::vector<int64_t>{0, 0, 1, 1, 1, 2});
  REQUIRE(index.sizes.size() == 6);
  CHECK((index.sizes[5].height == 6 && index.sizes[5].width == 5));
  CHECK(index.skipped.empty());
}

TEST_CASE("image folder: lazy decoding gives exact PNG pixels, grey and RGBA become RGB") {
  TempDir dir;
  make_tree(dir);
  ImageFolderDataset ds(scan_image_folder(dir.path()), raw_pipeline());
  CHECK(ds.size() == 6);
  CHECK(ds.sample_shape() == std::vector<int64_t>{3, 6, 5});
  CHECK(ds.num_classes() == 3);
  auto check_numbered = [&](int64_t index, int seed, bool grey) {
    const std::vector<float> x = sample(ds, index);
    bool exact = true;
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < 6; ++y)
        for (int64_t xx = 0; xx < 5; ++xx)
          exact &= std::fabs(x[(c * 6 + y) * 5 + xx] - numbered(seed, y, xx, grey ? 0 : c)) < 1e-3f;
    CHECK_MESSAGE(exact, "sample ", index);
  };
  check_numbered(0, 2, false);  // B.PNG
  check_numbered(1, 1, false);  // a.png
  check_numbered(2, 3, true);   // grey: one value repeated in R, G, B
  check_numbered(3, 5, false);  // RGBA: alpha dropped
  check_numbered(4, 4, false);
  const std::vector<float> jpeg = sample(ds, 5);  // lossy, but a flat colour survives closely
  for (int64_t c = 0; c < 3; ++c) CHECK(std::fabs(jpeg[c * 30 + 7] - float(100 + 50 * c)) <= 3.0f);

  // Decoding on loader threads with a random pipeline: identical batches for 0 and 2 workers.
  ImagePipeline flip = raw_pipeline();
  flip.random_flip = true;
  flip.crop_padding = 1;
  ImageFolderDataset augmented(scan_image_folder(dir.path()), flip);
  auto collect = [&](int workers) {
    LoaderOptions o;
    o.batch_size = 4;
    o.shuffle = true;
    o.seed = 3;
    o.workers = workers;
    std::vector<float> all;
    DataLoader(augmented, o).for_each_batch(1, [&](const Batch& b, int64_t) {
      std::vector<float> v = b.images.to_vector<float>();
      all.insert(all.end(), v.begin(), v.end());
    });
    return all;
  };
  CHECK(collect(0) == collect(2));
}

TEST_CASE("image folder: undecodable files stop with the file's name, or are skipped and listed") {
  TempDir dir;
  make_tree(dir);
  write_bytes(dir / "b_class/broken.png", kGarbage);
  CHECK_THROWS_WITH_AS(scan_image_folder(dir.path()), doctest::Contains("broken.png"), Error);
  CHECK_THROWS_WITH_AS(scan_image_folder(dir.path()), doctest::Contains("not a JPEG, PNG, BMP or binary PPM/PGM image"), Error);
  ImageFolderOptions skip;
  skip.bad_images = BadImagePolicy::Skip;
  ImageFolderIndex index = scan_image_folder(dir.path(), skip);
  CHECK(index.files.size() == 6);
  REQUIRE(index.skipped.size() == 1);
  CHECK(index.skipped[0].path.find("broken.png") != std::string::npos);

  // In memory: the same policies, the decode error naming the file.
  CHECK_THROWS_WITH_AS(load_image_folder_to_memory(dir.path()), doctest::Contains("broken.png"),
                       Error);
  write_bytes(dir / "Zebra/scan.tif", kGarbage);  // torchvision reads TIFF; stb_image cannot
  CHECK_THROWS_WITH_AS(scan_image_folder(dir.path()), doctest::Contains("scan.tif"), Error);
  CHECK(scan_image_folder(dir.path(), skip).skipped.size() == 2);
  std::vector<BadImage> skipped;
  CHECK(load_image_folder_to_memory(dir.path(), skip, 6, 5, &skipped).count == 6);
  CHECK(skipped.size() == 2);

  // A file that breaks after the scan: Stop throws at get(); Skip gives zeros and lists it.
  ImageFolderDataset stop_ds(scan_image_folder(dir.path(), skip), raw_pipeline());
  ImageFolderDataset skip_ds(scan_image_folder(dir.path(), skip), raw_pipeline(),
                             BadImagePolicy::Skip);
  write_bytes(dir / "Zebra/a.png", kGarbage);
  CHECK_THROWS_WITH_AS(sample(stop_ds, 1), doctest::Contains("a.png"), Error);
  CHECK(sample(skip_ds, 1) == std::vector<float>(90, 0.0f));
  CHECK(skip_ds.failed_at_load().size() == 1);

  // A class whose only image is unreadable is an empty class, even when skipping.
  TempDir lonely;
  write_png(lonely / "ok/a.png", numbered_image(4, 4, 3, 0));
  write_bytes(lonely / "bad/a.png", kGarbage);
  CHECK_THROWS_WITH_AS(scan_image_folder(lonely.path(), skip), doctest::Contains("bad"), Error);
}

TEST_CASE("image folder: missing, empty and mismatched folders give clear messages") {
  TempDir dir;
  CHECK_THROWS_WITH_AS(scan_image_folder(dir / "nope"), doctest::Contains("folder not found"),
                       Error);
  write_bytes(dir / "file.png", kGarbage);
  CHECK_THROWS_WITH_AS(scan_image_folder(dir / "file.png"), doctest::Contains("not a folder"),
                       Error);
  CHECK_THROWS_WITH_AS(scan_image_folder(dir.path()), doctest::Contains("no class folders"), Error);
  write_png(dir / "cat/a.png", numbered_image(4, 4, 3, 0));
  write_bytes(dir / "empty_class/readme.txt", {'x'});
  CHECK_THROWS_WITH_AS(scan_image_folder(dir.path()), doctest::Contains("empty_class"), Error);

  TempDir train, val;
  for (const char* cls : {"cat", "dog", "emu"})
    write_png(train / (std::string(cls) + "/a.png"), numbered_image(4, 4, 3, 0));
  for (const char* cls : {"cat", "dog", "fox"})
    write_png(val / (std::string(cls) + "/a.png"), numbered_image(4, 4, 3, 0));
  try {
    check_same_classes(scan_image_folder(train.path()), scan_image_folder(val.path()));
    FAIL("no error for different class folders");
  } catch (const Error& e) {
    const std::string m = e.what();
    CHECK(m.find("only in " + train.path() + ": emu") != std::string::npos);
    CHECK(m.find("only in " + val.path() + ": fox") != std::string::npos);
  }

  write_png(val / "cat/big.png", numbered_image(5, 4, 3, 0));  // without a crop: one size only
  CHECK_THROWS_WITH_AS(ImageFolderDataset(scan_image_folder(val.path()), raw_pipeline()),
                       doctest::Contains("big.png"), Error);
  CHECK_THROWS_WITH_AS(load_image_folder_to_memory(val.path(), {}, 4, 4),
                       doctest::Contains("big.png: image is 5x4"), Error);
}

TEST_CASE("image folder: decoding into memory gives CHW bytes, the same on 1 or 2 threads") {
  TempDir dir;
  for (int i = 0; i < 12; ++i)
    write_png(dir / ((i % 2 ? "odd/" : "even/") + std::to_string(i) + ".png"),
              numbered_image(3, 4, 3, i));
  ImageFolderOptions one, two;
  one.threads = 1;
  two.threads = 2;
  const ImageDataset a = load_image_folder_to_memory(dir.path(), one);
  const ImageDataset b = load_image_folder_to_memory(dir.path(), two);
  CHECK((a.count == 12 && a.channels == 3 && a.height == 3 && a.width == 4 && a.num_classes == 2));
  CHECK(a.pixels == b.pixels);
  CHECK(a.labels == b.labels);
  // Image 0 is even/0.png; files sort as strings: 0, 10, 2, 4, 6, 8.
  CHECK(a.pixels[1 * 12 + 2 * 4 + 3] == static_cast<uint8_t>(numbered(0, 2, 3, 1)));  // c1 y2 x3
  CHECK(a.pixels[12 * 3 + 0] == static_cast<uint8_t>(numbered(10, 0, 0, 0)));
}

TEST_CASE("image folder: open_data folder: and imagenet: pick pipelines by image size") {
  TempDir small, large;
  for (const char* split : {"train", "test"})
    for (const char* cls : {"x", "y"})
      write_png(small / (std::string(split) + "/" + cls + "/a.png"), numbered_image(8, 8, 3, 1));
  DataSplits s = open_data("folder:" + small.path(), true);
  CHECK((s.name == "folder" && s.channels == 3 && s.height == 8 && s.width == 8));
  CHECK((s.train->size() == 2 && s.test->size() == 2 && s.num_classes == 2));
  CHECK(dynamic_cast<const InMemoryImageDataset*>(s.test.get()) != nullptr);

  for (const char* split : {"train", "val"})
    for (const char* cls : {"x", "y", "z"})
      write_png(large / (std::string(split) + "/" + cls + "/a.png"), numbered_image(64, 80, 3, 2));
  write_bytes(large / "val/z/broken.jpg", kGarbage);
  DataOptions o;
  o.bad_images = BadImagePolicy::Skip;
  for (const char* kind : {"folder:", "imagenet:"}) {
    DataSplits l = open_data(kind + large.path(), o);
    CHECK((l.height == 224 && l.width == 224 && l.num_classes == 3));
    CHECK(l.skipped.size() == 1);
    CHECK(dynamic_cast<const ImageFolderDataset*>(l.train.get()) != nullptr);
    CHECK(sample(*l.test, 0).size() == 3 * 224 * 224);
  }
  o.bad_images = BadImagePolicy::Stop;
  CHECK_THROWS_WITH_AS(open_data("imagenet:" + large.path(), o), doctest::Contains("broken.jpg"),
                       Error);
  CHECK_THROWS_WITH_AS(open_data("imagenet:" + small.path(), false), doctest::Contains("/val"),
                       Error);
  CHECK_THROWS_WITH_AS(open_data("folder:" + small.path() + "/train", false),
                       doctest::Contains("no "), Error);
  o.load_train = false;
  o.bad_images = BadImagePolicy::Skip;
  CHECK(open_data("imagenet:" + large.path(), o).train == nullptr);
}

TEST_CASE("image folder: the CIFAR-10 JPEG copy opens as cifar10:DIR (when the archive is here)") {
  const std::string archive = "../shared/data/cifar10-jpeg.tar.gz";
  if (!std::filesystem::exists(archive)) {
    MESSAGE("skipped: " << archive << " not found");
    return;
  }
  // Only test/<class>/00NN.jpg (100 per class): unpacking all 60,000 files takes seconds, or
  // much longer when the disk is busy.
  TempDir dir;
  const std::string command =
      "tar xzf " + archive + " -C " + dir.path() + " --wildcards 'test/*/00*.jpg' 2>/dev/null";
  if (std::system(command.c_str()) != 0) {
    MESSAGE("skipped: could not unpack " << archive);
    return;
  }
  std::filesystem::rename(dir / "test", dir / "val");  // the val/ spelling is accepted too
  std::filesystem::create_directories(dir / "train");
  std::filesystem::rename(dir / "val/cat", dir / "train/cat");  // a class missing from val
  CHECK_THROWS_WITH_AS(open_data("cifar10:" + dir.path(), false), doctest::Contains("only in"),
                       Error);
  std::filesystem::rename(dir / "train/cat", dir / "val/cat");
  DataOptions o;
  o.load_train = false;
  DataSplits s = open_data("cifar10:" + dir.path(), o);
  CHECK(s.test->size() == 1000);
  CHECK((s.height == 32 && s.width == 32 && s.num_classes == 10));
  CHECK(s.class_names[0] == "airplane");
  const auto& images = dynamic_cast<const InMemoryImageDataset&>(*s.test).data();
  double mean = 0.0;
  for (uint8_t v : images.pixels) mean += v;
  mean /= static_cast<double>(images.pixels.size());
  CHECK((mean > 90.0 && mean < 150.0));  // natural photos, not blank or noise
  CHECK(images.labels[999] == 9);
}
