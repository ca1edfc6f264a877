// Example: train a ResNet-20 on Fashion-MNIST through the C++ API, the loop written out: data,
// model, loss, optimizer, learning-rate schedule, evaluation, checkpoint save and reload.
//
// What it teaches:
//   - open_data("fmnist") gives train and test Datasets; a DataLoader cuts shuffled batches;
//   - create_model("resnet20", ...) builds a registered model; model->train() / evaluate();
//   - one step: forward, cross_entropy, zero_grad, backward, Sgd::step with the LR of the step;
//   - Module::save writes safetensors; Model::load_checkpoint reads them back (strictly).
// `nwq train` (tools/lib/cmd_train.cpp, train/trainer.cpp) is this loop with more options.
// Run: build/examples/train_resnet20 [--epochs 3] [--limit N] [--test-limit N] [--out FILE]
//   --limit uses N training images per epoch and --test-limit N test images (CI: 512 and 500).
// Needs Debian's dataset-fashion-mnist. Three full epochs on a 2-core CPU take several minutes.
#include <cstdio>
#include <cstring>
#include <string>

#include "autograd/engine.h"
#include "data/loader.h"
#include "data/sources.h"
#include "models/registry.h"
#include "ops/backend.h"
#include "ops/loss.h"
#include "optim/lr_schedule.h"
#include "optim/optimizer.h"
#include "train/trainer.h"

using namespace nwq;

struct Options {
  int64_t epochs = 3, limit = -1, test_limit = -1;
  std::string out = "resnet20_fmnist.safetensors";
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--epochs")) o.epochs = std::stoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--limit")) o.limit = std::stoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--test-limit")) o.test_limit = std::stoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--out")) o.out = argv[i + 1];
    else throw Error(str("unknown flag ", argv[i]));
  }
  return o;
}

double test_top1(Model& model, const Dataset& test, int64_t limit) {
  EvalOptions eo;  // eval mode, no graph, batches of 256
  eo.limit = limit;
  eo.progress = false;
  return evaluate(model, test, eo).top1;
}

int main(int argc, char** argv) try {
  init_backends();
  const Options o = parse(argc, argv);

  // Data: training augmentation (random crop, flip) on the train split, normalization on both.
  DataSplits data = open_data("fmnist", /*augment_train=*/true);
  LoaderOptions lo;
  lo.batch_size = 128;
  lo.shuffle = true;
  lo.limit = o.limit;
  DataLoader loader(*data.train, lo);

  // Model, optimizer, schedule: SGD with Nesterov momentum, cosine decay stepped per batch.
  ModelPtr model = create_model("resnet20", data.num_classes, int(data.channels), /*seed=*/0);
  SgdOptions so;
  so.lr = 0.1, so.momentum = 0.9, so.weight_decay = 5e-4, so.nesterov = true;
  Sgd optimizer(model->parameters(), so);
  const LrSchedule schedule = make_schedule("cosine", so.lr, o.epochs * loader.num_batches(), 0);
  std::printf("resnet20: %lld parameters; %lld batches of 128 per epoch\n",
              (long long)model->num_parameters(), (long long)loader.num_batches());

  int64_t step = 0;
  double first_loss = -1, last_loss = 0;
  for (int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    model->train();
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    loader.for_each_batch(epoch, [&](const Batch& batch, int64_t) {
      optimizer.set_lr(schedule.at(step++));
      Tensor logits = model->forward(batch.images);
      Tensor loss = cross_entropy(logits, batch.labels);
      optimizer.zero_grad();
      backward(loss);
      optimizer.step();
      if (first_loss < 0) first_loss = loss.item();
      loss_sum += loss.item() * double(batch.images.size(0));
      correct += count_correct(logits, batch.labels);
      seen += batch.images.size(0);
    });
    last_loss = loss_sum / double(seen);
    std::printf("epoch %lld: train loss %.4f, train top-1 %.2f%%, test top-1 %.2f%%\n",
                (long long)epoch + 1, last_loss, 100.0 * double(correct) / double(seen),
                test_top1(*model, *data.test, o.test_limit));
  }

  // Checkpoint: save, build a fresh model, load, and evaluate again: the same accuracy.
  const double top1 = test_top1(*model, *data.test, o.test_limit);
  model->save(o.out, {{"model", "resnet20"}, {"data", "fmnist"}});
  ModelPtr reloaded = create_model("resnet20", data.num_classes, int(data.channels), /*seed=*/1);
  reloaded->load_checkpoint(o.out);
  const double top1_reloaded = test_top1(*reloaded, *data.test, o.test_limit);
  std::printf("saved %s; reloaded top-1 %.2f%% (before saving %.2f%%)\n", o.out.c_str(),
              top1_reloaded, top1);
  if (top1_reloaded != top1 || !(last_loss < first_loss)) {
    std::printf("FAILED: %s\n", top1_reloaded != top1 ? "the reloaded model differs"
                                                      : "the training loss did not go down");
    return 1;
  }
  std::printf("training lowered the loss (%.4f -> %.4f); checkpoint round trip exact\n",
              first_loss, last_loss);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "train_resnet20: error: %s\n", e.what());
  return 1;
}
