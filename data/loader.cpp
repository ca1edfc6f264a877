// DataLoader: epoch order from a seeded permutation; batches built by worker threads running a
// bounded window ahead of the consumer, delivered in order.
#include "data/loader.h"

#include <functional>
#include <future>

#include "core/error.h"

namespace nwq {

DataLoader::DataLoader(const Dataset& dataset, LoaderOptions options)
    : dataset_(dataset), options_(options) {
  NWQ_CHECK(options_.batch_size > 0, "loader: batch size must be positive, got ",
            options_.batch_size);
  NWQ_CHECK(options_.workers >= 0, "loader: worker count must not be negative");
}

int64_t DataLoader::num_samples() const {
  int64_t n = dataset_.size();
  return options_.limit >= 0 ? std::min(n, options_.limit) : n;
}

int64_t DataLoader::num_batches() const {
  int64_t n = num_samples(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

std::vector<int64_t> DataLoader::epoch_order(int64_t epoch) const {
  std::vector<int64_t> order;
  if (options_.shuffle) {
    Rng rng = Rng(options_.seed).split(0x5eed0000ULL + static_cast<uint64_t>(epoch));
    order = rng.permutation(dataset_.size());
    order.resize(num_samples());
    return order;
  }
  // In order; a limit takes evenly spaced samples so that every class of a sorted folder shows.
  int64_t n = num_samples(), size = dataset_.size();
  order.resize(n);
  for (int64_t i = 0; i < n; ++i) order[i] = n == size ? i : i * size / n;
  return order;
}

Batch DataLoader::make_batch(const std::vector<int64_t>& indices, int64_t epoch) const {
  std::vector<int64_t> shape = dataset_.sample_shape();
  int64_t per_sample = shape[0] * shape[1] * shape[2];
  int64_t b = static_cast<int64_t>(indices.size());
  Batch batch;
  batch.images = Tensor::empty({b, shape[0], shape[1], shape[2]});
  batch.labels = Tensor::empty({b}, DType::I64);
  batch.indices = indices;
  float* dst = batch.images.data<float>();
  int64_t* labels = batch.labels.data<int64_t>();
  Rng epoch_rng = Rng(options_.seed).split(static_cast<uint64_t>(epoch) + 1);
  for (int64_t i = 0; i < b; ++i) {
    Rng sample_rng = epoch_rng.split(static_cast<uint64_t>(indices[i]));
    dataset_.get(indices[i], dst + i * per_sample, sample_rng);
    labels[i] = dataset_.label(indices[i]);
  }
  return batch;
}

void DataLoader::for_each_batch(int64_t epoch,
                                const std::function<void(const Batch&, int64_t)>& consume) const {
  std::vector<int64_t> order = epoch_order(epoch);
  int64_t count = num_batches(), bs = options_.batch_size;
  auto indices_of = [&](int64_t k) {
    int64_t begin = k * bs, end = std::min<int64_t>(begin + bs, static_cast<int64_t>(order.size()));
    return std::vector<int64_t>(order.begin() + begin, order.begin() + end);
  };
  if (options_.workers == 0) {
    for (int64_t k = 0; k < count; ++k) consume(make_batch(indices_of(k), epoch), k);
    return;
  }
  std::vector<std::future<Batch>> ahead(count);
  int64_t window = options_.workers;
  auto launch = [&](int64_t k) {
    if (k < count) ahead[k] = std::async(std::launch::async, [this, ids = indices_of(k), epoch] {
      return make_batch(ids, epoch);
    });
  };
  for (int64_t k = 0; k < window; ++k) launch(k);
  for (int64_t k = 0; k < count; ++k) {
    Batch batch = ahead[k].get();
    launch(k + window);
    consume(batch, k);
  }
}

}  // namespace nwq
