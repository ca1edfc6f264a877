// Classifier training and evaluation loops over a Module and Datasets: SGD with momentum,
// an LR schedule stepped per batch, cross-entropy loss, per-epoch test accuracy.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/loader.h"
#include "models/module.h"

namespace nwq {

struct EvalResult {
  double top1 = 0, top5 = 0, loss = 0;  // percentages and mean loss
  int64_t images = 0;
  double seconds = 0;
};

struct EvalOptions {
  int64_t batch = 256;
  Device device = Device::cpu();
  int workers = 2;
  bool progress = true;
  int64_t limit = -1;  // evaluate only the first `limit` images (-1: all)
};

// Runs model in eval mode without recording a graph.
EvalResult evaluate(Module& model, const Dataset& data, const EvalOptions& options);

// evaluate() with these options as a function returning the top-1 accuracy (percent): what
// QuantizeJob::evaluate (quant/pipeline.h) takes.
std::function<double(Module& model, const Dataset& data)> top1_evaluator(EvalOptions options);

struct TrainOptions {
  int64_t epochs = 10, batch = 128;
  double lr = 0.1, momentum = 0.9, weight_decay = 5e-4;
  bool nesterov = true;
  std::string schedule = "cosine";
  double warmup_epochs = 0;
  double label_smoothing = 0;
  uint64_t seed = 0;
  Device device = Device::cpu();
  int workers = 2;
  bool progress = true;
  int64_t limit = -1;       // train on the first `limit` images of each epoch's order (-1: all)
  int64_t eval_limit = -1;  // evaluate on the first `eval_limit` test images (-1: all)
};

struct EpochStats {
  int64_t epoch = 0;
  double train_loss = 0, train_top1 = 0, lr = 0, seconds = 0;
  EvalResult test;  // empty when no test set is given
};

// The loader of training passes: shuffled by `seed`, whole batches only, the first `limit`
// images of each epoch's order (-1: all). Training and precise BN (train/precise_bn.h) read it.
LoaderOptions training_loader_options(int64_t batch, uint64_t seed, int workers, int64_t limit);
// The per-epoch test evaluation of a training run (its device, workers, progress, eval_limit).
EvalOptions test_eval_options(const TrainOptions& options);

// Trains in place; `on_epoch` (may be empty) is called after each epoch.
std::vector<EpochStats> train_classifier(Module& model, const Dataset& train, const Dataset* test,
                                         const TrainOptions& options,
                                         const std::function<void(const EpochStats&)>& on_epoch);

}  // namespace nwq
