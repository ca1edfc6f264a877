// A short training run lowers the loss: ResNet-20 on a small synthetic 3-class problem
// (each class has its own mean pattern), through the real trainer, optimizer and loader.
#include <doctest/doctest.h>

#include "core/rng.h"
#include "models/registry.h"
#include "train/trainer.h"

using namespace nwq;

static ImageDataset pattern_images(int64_t count, uint64_t seed) {
  ImageDataset d;
  d.count = count;
  d.channels = 1;
  d.height = 8;
  d.width = 8;
  d.num_classes = 3;
  Rng rng(seed);
  for (int64_t i = 0; i < count; ++i) {
    int64_t label = i % 3;
    for (int64_t p = 0; p < 64; ++p) {
      bool lit = (label == 0 && p < 32) || (label == 1 && p % 8 < 4) || (label == 2 && (p / 8 + p) % 2);
      double v = (lit ? 170.0 : 70.0) + 40.0 * (rng.uniform_f64() - 0.5);
      d.pixels.push_back(static_cast<uint8_t>(v));
    }
    d.labels.push_back(label);
  }
  return d;
}

TEST_CASE("training: a few epochs of SGD lower the loss and fit the training data") {
  ImageTransform t;
  t.mean = {0.5f};
  t.std = {0.25f};
  InMemoryImageDataset train(pattern_images(192, 1), t), test(pattern_images(96, 2), t);
  ModelPtr model = create_model("resnet20", 3, 1, 5);
  TrainOptions o;
  o.epochs = 4;
  o.batch = 32;
  o.lr = 0.05;
  o.progress = false;
  o.seed = 7;
  std::vector<EpochStats> history = train_classifier(*model, train, &test, o, nullptr);
  REQUIRE(history.size() == 4);
  MESSAGE("loss per epoch: ", history[0].train_loss, " -> ", history[3].train_loss,
          ", test top1 ", history[3].test.top1);
  CHECK(history[3].train_loss < 0.5 * history[0].train_loss);
  CHECK(history[3].test.top1 > 90.0);
}

TEST_CASE("training: the same seed gives the same weights") {
  ImageTransform t;
  t.mean = {0.5f};
  t.std = {0.25f};
  InMemoryImageDataset train(pattern_images(64, 3), t);
  auto run = [&] {
    ModelPtr model = create_model("resnet20", 3, 1, 5);
    TrainOptions o;
    o.epochs = 1;
    o.batch = 16;
    o.progress = false;
    train_classifier(*model, train, nullptr, o, nullptr);
    return model->state_dict()[0].second.to_vector<float>();
  };
  CHECK(run() == run());
}
