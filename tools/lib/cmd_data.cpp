// `nwq data`: writes a split's tensors exactly as nwq feeds them to a model (evaluation transform,
// normalization, no augmentation; for --split calib the draw `nwq quantize` makes), for PyTorch
// scripts.
#include <algorithm>
#include <cstdio>

#include "core/safetensors.h"
#include "core/tensor_io.h"
#include "core/torch_checkpoint.h"
#include "data/calibration.h"
#include "data/loader.h"
#include "quant/pipeline.h"
#include "tools/lib/cli_common.h"
#include "tools/lib/commands.h"

namespace nwq {

namespace {

void declare_flags(ArgParser& a) {
  add_data_flags(a, true);
  a.add("--split", "S", "test",
        "test (the split nwq eval reads), train (evaluation transform) or calib (the images nwq "
        "quantize --calib N --seed S calibrates on, in its order)");
  a.add("--calib", "N", "1024", "--split calib: calibration images drawn from the training split");
  a.add("--seed", "N", "0", "--split calib: seed of the draw (as nwq quantize --seed)");
  a.add("--limit", "N", "-1",
        "test/train: only N evenly spaced images, the ones nwq eval --limit N reads (-1: all)");
  a.add("--weights", "FILE", "", "read --mean/--std defaults from this checkpoint's metadata");
  add_loading_flags(a);
  a.add("--out", "FILE", "",
        "write F32 images [N,C,H,W], I64 labels [N] and I64 indices [N] here (safetensors)");
}

struct SplitTensors {
  Tensor images, labels, indices;
};

// The images of `dataset` as evaluation reads them (DataLoader order, `limit` evenly spaced ones).
SplitTensors read_split(const Dataset& dataset, int64_t limit, int workers) {
  LoaderOptions lo;
  lo.batch_size = 256;
  lo.workers = workers;
  lo.limit = limit;
  DataLoader loader(dataset, lo);
  Shape shape = {loader.num_samples()};
  for (int64_t d : dataset.sample_shape()) shape.push_back(d);
  SplitTensors out{Tensor::empty(shape), Tensor::empty({shape[0]}, DType::I64),
                   Tensor::empty({shape[0]}, DType::I64)};
  int64_t at = 0;
  loader.for_each_batch(0, [&](const Batch& batch, int64_t) {
    const int64_t n = batch.images.size(0);
    out.images.slice(0, at, at + n).copy_(batch.images);
    out.labels.slice(0, at, at + n).copy_(batch.labels);
    std::copy(batch.indices.begin(), batch.indices.end(), out.indices.data<int64_t>() + at);
    at += n;
  });
  return out;
}

// The calibration set of `nwq quantize --calib n --seed seed`: load_calibration's images, and the
// indices it draws (calibration_indices, the same call).
SplitTensors read_calibration(const Dataset& train, int64_t n, uint64_t seed, int workers) {
  QuantConfig c;
  c.calib = n;
  c.seed = seed;
  SplitTensors out;
  out.images = load_calibration(train, c, Device::cpu(), workers);
  const std::vector<int64_t> indices = calibration_indices(train.size(), n, seed);
  std::vector<int64_t> labels;
  for (int64_t i : indices) labels.push_back(train.label(i));
  out.indices = Tensor::from_vector(indices, {n});
  out.labels = Tensor::from_vector(labels, {n});
  return out;
}

}  // namespace

ArgParser data_flags() {
  ArgParser a(
      "data",
      "Writes a split's images exactly as nwq feeds them to a model (evaluation transform "
      "and normalization, no augmentation), with labels and indices, for reference scripts.");
  declare_flags(a);
  return a;
}

int cmd_data(const std::vector<std::string>& args) {
  ArgParser a = data_flags();
  a.parse(args);
  if (a.help_requested()) {
    std::fputs(a.help().c_str(), stdout);
    return 0;
  }
  NWQ_CHECK(a.has("--out"), "data: --out FILE is required");
  const std::string out = a.get("--out"),
                    split = a.get_choice("--split", {"test", "train", "calib"});
  check_output_path(out, "--out");
  const bool calib = split == "calib";
  NWQ_CHECK(calib || (!a.on("--calib") && !a.on("--seed")),
            "--calib/--seed choose the calibration draw: they need --split calib");
  NWQ_CHECK(!calib || !a.on("--limit"),
            "--limit: not with --split calib (--calib N sets the count)");
  const int64_t limit = a.get_int("--limit", -1, INT64_MAX);
  const int64_t n = a.get_int("--calib", 1, 100000000);
  const uint64_t seed = static_cast<uint64_t>(a.get_int("--seed", 0, INT64_MAX));
  const std::string weights = a.has("--weights") ? a.get("--weights") : "";
  SafetensorsMetadata checkpoint;
  if (!weights.empty()) checkpoint = load_weights_file(weights).metadata;  // .pth: none
  const NormalizationChoice norm =
      choose_normalization(a, weights.empty() ? nullptr : &checkpoint, weights);
  DataSplits data =
      open_data(a.get("--data"), data_options_from_flags(a, false, split != "test", norm));
  report_skipped_images(data);
  report_normalization(norm, data);
  const int workers = workers_from_flag(a);
  SplitTensors t = calib ? read_calibration(*data.train, n, seed, workers)
                         : read_split(split == "test" ? *data.test : *data.train, limit, workers);
  SafetensorsMetadata meta = {{"format", "nwq-data-v1"},
                              {"data", a.get("--data")},
                              {"split", split},
                              {"num_classes", std::to_string(data.num_classes)}};
  for (const auto& entry : normalization_metadata(data)) meta.push_back(entry);
  if (calib)
    meta.insert(meta.end(), {{"calib", std::to_string(n)}, {"seed", std::to_string(seed)}});
  if (!calib && limit >= 0) meta.push_back({"limit", std::to_string(limit)});
  save_safetensors(out, {{"images", t.images}, {"labels", t.labels}, {"indices", t.indices}}, meta);
  std::fprintf(stderr,
               "wrote %s: images [%lld, %lld, %lld, %lld] F32, labels and indices [%lld] I64\n",
               out.c_str(), (long long)t.images.size(0), (long long)data.channels,
               (long long)data.height, (long long)data.width, (long long)t.images.size(0));
  return 0;
}

}  // namespace nwq
