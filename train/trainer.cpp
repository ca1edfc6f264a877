// The training and evaluation loops. Loss and accuracy are accumulated on the host from
// per-batch values, so they are exact sums independent of batch order.
#include "train/trainer.h"

#include <cmath>
#include <cstdio>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "core/progress.h"
#include "data/loader.h"
#include "ops/loss.h"
#include "optim/lr_schedule.h"
#include "optim/optimizer.h"

namespace nwq {

static std::string stats_text(double loss, double top1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "loss %.4f acc %.2f%%", loss, top1);
  return buf;
}

EvalResult evaluate(Module& model, const Dataset& data, const EvalOptions& options) {
  LoaderOptions lo;
  lo.batch_size = options.batch;
  lo.workers = options.workers;
  lo.limit = options.limit;
  DataLoader loader(data, lo);
  model.eval();
  NoGradGuard no_grad;
  ProgressBar bar("eval ", loader.num_batches(), options.progress);
  double loss_sum = 0;
  int64_t correct1 = 0, correct5 = 0, seen = 0;
  loader.for_each_batch(0, [&](const Batch& batch, int64_t k) {
    Tensor x = batch.images.to(options.device), y = batch.labels.to(options.device);
    Tensor logits = model.forward(x);
    int64_t b = x.size(0);
    loss_sum += cross_entropy(logits, y).item() * double(b);
    correct1 += count_correct(logits, y);
    correct5 += count_top_k(logits, y, std::min<int64_t>(5, logits.size(1)));
    seen += b;
    bar.update(k + 1, stats_text(loss_sum / seen, 100.0 * correct1 / seen));
  });
  EvalResult r;
  r.images = seen;
  r.loss = seen ? loss_sum / seen : 0;
  r.top1 = seen ? 100.0 * correct1 / seen : 0;
  r.top5 = seen ? 100.0 * correct5 / seen : 0;
  r.seconds = bar.elapsed_seconds();
  bar.finish(stats_text(r.loss, r.top1));
  return r;
}

std::function<double(Module&, const Dataset&)> top1_evaluator(EvalOptions options) {
  return [options](Module& model, const Dataset& data) {
    return evaluate(model, data, options).top1;
  };
}

static EpochStats train_one_epoch(Module& model, const DataLoader& loader, Optimizer& opt,
                                  const LrSchedule& schedule, int64_t epoch,
                                  const TrainOptions& options) {
  model.train();
  ProgressBar bar(str("epoch ", epoch + 1, "/", options.epochs), loader.num_batches(),
                  options.progress);
  double loss_sum = 0;
  int64_t correct = 0, seen = 0;
  loader.for_each_batch(epoch, [&](const Batch& batch, int64_t k) {
    opt.set_lr(schedule.at(epoch * loader.num_batches() + k));
    Tensor x = batch.images.to(options.device), y = batch.labels.to(options.device);
    Tensor logits = model.forward(x);
    Tensor loss = cross_entropy(logits, y, options.label_smoothing);
    opt.zero_grad();
    backward(loss);
    opt.step();
    double l = loss.item();
    NWQ_CHECK(std::isfinite(l), "train: loss became ", l, " at epoch ", epoch + 1, " batch ", k);
    loss_sum += l * double(x.size(0));
    correct += count_correct(logits.detach(), y);
    seen += x.size(0);
    bar.update(k + 1, stats_text(loss_sum / seen, 100.0 * correct / seen));
  });
  EpochStats s;
  s.epoch = epoch + 1;
  s.train_loss = seen ? loss_sum / seen : 0;
  s.train_top1 = seen ? 100.0 * correct / seen : 0;
  s.lr = opt.lr();
  s.seconds = bar.elapsed_seconds();
  bar.finish(stats_text(s.train_loss, s.train_top1));
  return s;
}

LoaderOptions training_loader_options(int64_t batch, uint64_t seed, int workers, int64_t limit) {
  LoaderOptions lo;
  lo.batch_size = batch;
  lo.shuffle = true;
  lo.drop_last = true;
  lo.seed = seed;
  lo.workers = workers;
  lo.limit = limit;
  return lo;
}

EvalOptions test_eval_options(const TrainOptions& options) {
  EvalOptions eo;
  eo.device = options.device;
  eo.workers = options.workers;
  eo.progress = options.progress;
  eo.limit = options.eval_limit;
  return eo;
}

std::vector<EpochStats> train_classifier(Module& model, const Dataset& train, const Dataset* test,
                                         const TrainOptions& options,
                                         const std::function<void(const EpochStats&)>& on_epoch) {
  DataLoader loader(train, training_loader_options(options.batch, options.seed, options.workers,
                                                   options.limit));
  NWQ_CHECK(loader.num_batches() > 0, "train: fewer training images (", loader.num_samples(),
            ") than one batch (", options.batch, ")");
  int64_t total = options.epochs * loader.num_batches();
  auto warmup = static_cast<int64_t>(options.warmup_epochs * double(loader.num_batches()));
  LrSchedule schedule = make_schedule(options.schedule, options.lr, total, warmup);
  Sgd opt(model.parameters(), SgdOptions{options.lr, options.momentum, options.weight_decay,
                                         options.nesterov});
  std::vector<EpochStats> history;
  for (int64_t epoch = 0; epoch < options.epochs; ++epoch) {
    EpochStats s = train_one_epoch(model, loader, opt, schedule, epoch, options);
    if (test) s.test = evaluate(model, *test, test_eval_options(options));
    history.push_back(s);
    if (on_epoch) on_epoch(s);
  }
  return history;
}

}  // namespace nwq
