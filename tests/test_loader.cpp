// Data pipeline: Dataset transforms, DataLoader order, batching, and determinism across worker
// counts (each sample's augmentation stream depends only on seed, epoch and index).
#include <doctest/doctest.h>

#include "data/loader.h"

using namespace nwq;

// A synthetic 1x4x4 dataset: image i holds the value i everywhere; label i % 3.
static ImageDataset tiny_images(int64_t count) {
  ImageDataset d;
  d.count = count;
  d.channels = 1;
  d.height = 4;
  d.width = 4;
  d.num_classes = 3;
  for (int64_t i = 0; i < count; ++i) {
    d.pixels.insert(d.pixels.end(), 16, static_cast<uint8_t>(i));
    d.labels.push_back(i % 3);
  }
  return d;
}

static ImageTransform plain_transform() {
  ImageTransform t;
  t.mean = {0.0f};
  t.std = {1.0f / 255.0f};  // x/255 then /std: the raw pixel value
  return t;
}

TEST_CASE("loader: ordered batches cover the dataset with a short last batch") {
  InMemoryImageDataset ds(tiny_images(10), plain_transform());
  LoaderOptions o;
  o.batch_size = 4;
  DataLoader loader(ds, o);
  CHECK(loader.num_batches() == 3);
  std::vector<int64_t> sizes;
  loader.for_each_batch(0, [&](const Batch& b, int64_t k) {
    sizes.push_back(b.images.size(0));
    CHECK(b.images.sizes() == Shape{b.images.size(0), 1, 4, 4});
    CHECK(b.images.to_vector<float>()[0] == doctest::Approx(double(4 * k)));
    CHECK(b.labels.to_vector<int64_t>()[0] == (4 * k) % 3);
  });
  CHECK(sizes == std::vector<int64_t>{4, 4, 2});
  o.drop_last = true;
  CHECK(DataLoader(ds, o).num_batches() == 2);
}

TEST_CASE("loader: shuffling is a seeded permutation that changes per epoch") {
  InMemoryImageDataset ds(tiny_images(50), plain_transform());
  LoaderOptions o;
  o.shuffle = true;
  o.seed = 3;
  DataLoader loader(ds, o);
  std::vector<int64_t> e0 = loader.epoch_order(0), e1 = loader.epoch_order(1);
  CHECK(e0 != e1);
  CHECK(e0 == DataLoader(ds, o).epoch_order(0));
  std::vector<int64_t> sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 50; ++i) CHECK(sorted[i] == i);
  o.limit = 7;
  CHECK(DataLoader(ds, o).epoch_order(0).size() == 7);
}

TEST_CASE("loader: augmented batches are identical for 0, 1 and 3 workers") {
  ImageTransform t = plain_transform();
  t.crop_padding = 1;
  t.random_flip = true;
  ImageDataset images = tiny_images(33);
  for (size_t i = 0; i < images.pixels.size(); ++i) images.pixels[i] = static_cast<uint8_t>(i * 7);
  InMemoryImageDataset ds(images, t);
  auto collect = [&](int workers) {
    LoaderOptions o;
    o.batch_size = 8;
    o.shuffle = true;
    o.seed = 11;
    o.workers = workers;
    std::vector<float> all;
    DataLoader(ds, o).for_each_batch(2, [&](const Batch& b, int64_t) {
      std::vector<float> v = b.images.to_vector<float>();
      all.insert(all.end(), v.begin(), v.end());
    });
    return all;
  };
  std::vector<float> serial = collect(0);
  CHECK(serial == collect(1));
  CHECK(serial == collect(3));
}

TEST_CASE("loader: bad options and transforms are refused") {
  InMemoryImageDataset ds(tiny_images(4), plain_transform());
  LoaderOptions o;
  o.batch_size = 0;
  CHECK_THROWS_WITH_AS(DataLoader(ds, o), doctest::Contains("batch size"), Error);
  ImageTransform wrong;
  wrong.mean = {0.5f, 0.5f};
  wrong.std = {0.5f, 0.5f};
  CHECK_THROWS_WITH_AS(InMemoryImageDataset(tiny_images(2), wrong), doctest::Contains("mean/std"),
                       Error);
  CHECK_THROWS_WITH_AS(ds.label(9), doctest::Contains("out of range"), Error);
}

TEST_CASE("loader: crop padding is black before normalization, as in torchvision") {
  ImageDataset white = tiny_images(1);
  std::fill(white.pixels.begin(), white.pixels.end(), uint8_t{255});
  ImageTransform t;
  t.mean = {0.5f};
  t.std = {0.5f};
  t.crop_padding = 2;
  InMemoryImageDataset ds(white, t);
  std::vector<float> img(16);
  int padded = 0;
  for (uint64_t s = 0; s < 20; ++s) {
    Rng rng(s);
    ds.get(0, img.data(), rng);
    for (float v : img) {
      CHECK((v == doctest::Approx(1.0) || v == doctest::Approx(-1.0)));
      padded += v < 0;
    }
  }
  CHECK(padded > 0);
}

TEST_CASE("loader: an unshuffled limit takes evenly spaced samples") {
  InMemoryImageDataset ds(tiny_images(10), plain_transform());
  LoaderOptions o;
  o.limit = 5;
  CHECK(DataLoader(ds, o).epoch_order(0) == std::vector<int64_t>{0, 2, 4, 6, 8});
  o.limit = 30;
  CHECK(DataLoader(ds, o).epoch_order(0).size() == 10);
}
