// Precise BN (train/precise_bn.h) against a reference computed here from the same batches:
// pycls's mean of batch means and mean of (unbiased variance + mean^2), for two BN layers in a row.
#include <doctest/doctest.h>

#include <cmath>

#include "data/loader.h"
#include "models/layers.h"
#include "train/precise_bn.h"

using namespace nwq;

namespace {

ImageDataset noise_images(int64_t count) {
  ImageDataset d;
  d.count = count, d.channels = 1, d.height = 4, d.width = 4, d.num_classes = 2;
  Rng rng(3);
  for (int64_t i = 0; i < count * 16; ++i)
    d.pixels.push_back(static_cast<uint8_t>(40 + 160 * rng.uniform_f64() + (i / 16 % 3) * 20));
  for (int64_t i = 0; i < count; ++i) d.labels.push_back(i % 2);
  return d;
}

struct Moments {
  double mean = 0, unbiased_var = 0;
};
Moments moments(const std::vector<double>& v) {
  Moments m;
  for (double x : v) m.mean += x / double(v.size());
  for (double x : v) m.unbiased_var += (x - m.mean) * (x - m.mean) / double(v.size() - 1);
  return m;
}

}  // namespace

TEST_CASE("precise BN: running statistics are pycls's averages over the batches, momenta kept") {
  ImageTransform t;
  t.mean = {0.5f}, t.std = {0.25f};
  InMemoryImageDataset data(noise_images(24), t);
  auto bn1 = std::make_shared<BatchNorm2d>(1, 1e-5, 0.0003);
  auto bn2 = std::make_shared<BatchNorm2d>(1, 1e-5, 0.1);
  Sequential model({bn1, std::make_shared<ReLU>(), bn2});
  PreciseBnOptions o;
  o.images = 20, o.batch = 8, o.seed = 5, o.workers = 0;  // 2 whole batches of 8
  CHECK(compute_precise_bn_stats(model, data, o) == 16);

  // The same batches, drawn by a loader with the same options.
  LoaderOptions lo;
  lo.batch_size = 8, lo.shuffle = true, lo.drop_last = true, lo.seed = 5, lo.workers = 0,
  lo.limit = 20;
  DataLoader loader(data, lo);
  double mean1 = 0, sq1 = 0, mean2 = 0, sq2 = 0;
  loader.for_each_batch(0, [&](const Batch& batch, int64_t) {
    std::vector<float> x = batch.images.to_vector<float>();
    std::vector<double> v1(x.begin(), x.end());
    const Moments m1 = moments(v1);
    const double biased1 = m1.unbiased_var * double(v1.size() - 1) / double(v1.size());
    std::vector<double> v2;  // train-mode BN1 (batch statistics, biased variance), then ReLU
    for (double a : v1) v2.push_back(std::max(0.0, (a - m1.mean) / std::sqrt(biased1 + 1e-5)));
    const Moments m2 = moments(v2);
    mean1 += m1.mean / 2, sq1 += (m1.unbiased_var + m1.mean * m1.mean) / 2;
    mean2 += m2.mean / 2, sq2 += (m2.unbiased_var + m2.mean * m2.mean) / 2;
  });
  CHECK(bn1->running_mean.to_vector<float>()[0] == doctest::Approx(mean1).epsilon(1e-5));
  CHECK(bn1->running_var.to_vector<float>()[0] == doctest::Approx(sq1 - mean1 * mean1).epsilon(1e-5));
  CHECK(bn2->running_mean.to_vector<float>()[0] == doctest::Approx(mean2).epsilon(1e-5));
  CHECK(bn2->running_var.to_vector<float>()[0] == doctest::Approx(sq2 - mean2 * mean2).epsilon(1e-5));
  CHECK(bn1->momentum() == 0.0003);
  CHECK(bn2->momentum() == 0.1);
  CHECK_FALSE(model.is_training());

  o.images = 7;  // not one batch of 8
  CHECK_THROWS_WITH_AS(compute_precise_bn_stats(model, data, o), doctest::Contains("one batch"), Error);
  CHECK_THROWS_WITH_AS(bn1->set_momentum(1.5), doctest::Contains("momentum"), Error);
}
