// CIFAR ResNet against PyTorch (tests/golden/resnet20.safetensors): names, parameter count,
// eval and train logits, loss, every parameter gradient and BN running stats after one step;
// the blocks() composition and the registry.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "models/registry.h"
#include "models/resnet_cifar.h"
#include "ops/loss.h"
#include "tests/helpers.h"

using namespace nwq;

namespace {

using test::golden_state;
using test::max_abs;

ModelPtr golden_resnet20(const TensorFile& file) {
  ModelPtr model = create_model("resnet20", 10, 1, 123);
  model->load_state_dict(golden_state(file), true, file.path);
  return model;
}

bool bit_identical(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.sizes() != b.sizes()) return false;
  Tensor ha = a.contiguous(), hb = b.contiguous();
  return std::memcmp(ha.raw_data(), hb.raw_data(), ha.numel() * dtype_size(a.dtype())) == 0;
}

}  // namespace

TEST_CASE("resnet_cifar: names, shapes and order match the golden state_dict") {
  TensorFile file = load_safetensors(test::golden_path("resnet20.safetensors"));
  NamedTensors golden = golden_state(file);
  ModelPtr model = create_model("resnet20", 10, 1, 0);
  NamedTensors ours = model->state_dict();
  REQUIRE(ours.size() == golden.size());
  for (size_t i = 0; i < ours.size(); ++i) {
    CAPTURE(golden[i].first);
    CHECK(ours[i].first == golden[i].first);
    CHECK(ours[i].second.sizes() == golden[i].second.sizes());
    CHECK(ours[i].second.dtype() == golden[i].second.dtype());
  }
  CHECK(model->num_parameters() == 269434);
  CHECK(create_model("resnet32", 10, 3, 0)->num_parameters() == 464154);
  CHECK(create_model("resnet44", 10, 3, 0)->num_parameters() == 658586);
  CHECK(create_model("resnet56", 100, 3, 0)->num_parameters() == 858868);
  CHECK(model->find("layer2.0.shortcut")->type_name() == "ShortcutA");
  CHECK(model->find("layer2.1.shortcut")->type_name() == "Identity");
  CHECK(model->find("layer3.2.relu2")->type_name() == "ReLU");
}

TEST_CASE("resnet_cifar: ResNet-20 eval and train forward, loss and gradients match PyTorch") {
  TensorFile file = load_safetensors(test::golden_path("resnet20.safetensors"));
  ModelPtr model = golden_resnet20(file);
  const Tensor& x = file.at("input.x");

  model->eval();
  {
    NoGradGuard no_grad;
    CHECK_CLOSE(model->forward(x), file.at("eval.logits"), 1e-4, 1e-5);
  }

  model->train();
  Tensor logits = model->forward(x);
  CHECK_CLOSE(logits, file.at("train.logits"), 1e-4, 1e-5);
  Tensor loss = cross_entropy(logits, file.at("input.target"));
  CHECK_CLOSE(loss, file.at("train.loss"), 1e-4, 1e-5);
  backward(loss);
  for (const auto& [name, p] : model->named_parameters()) {
    CAPTURE(name);
    const Tensor& golden = file.at("grad." + name);
    REQUIRE(p.grad().defined());
    CHECK_CLOSE(p.grad(), golden, 1e-3, 1e-3 * max_abs(golden));
  }
  for (const auto& [name, b] : model->named_buffers()) {
    CAPTURE(name);
    const Tensor& golden = file.at("train_after." + name);
    if (b.dtype() == DType::I64) CHECK(b.item() == golden.item());
    else CHECK_CLOSE(b, golden, 1e-4, 1e-5);
  }
}

TEST_CASE("resnet_cifar: forward is the composition of blocks(), bit for bit; swaps are seen") {
  TensorFile file = load_safetensors(test::golden_path("resnet20.safetensors"));
  ModelPtr model = golden_resnet20(file);
  model->eval();
  NoGradGuard no_grad;
  std::vector<Block> blocks = model->blocks();
  std::vector<std::string> names;
  for (const Block& b : blocks) names.push_back(b.name);
  CHECK(names == std::vector<std::string>{"stem", "layer1.0", "layer1.1", "layer1.2", "layer2.0",
                                          "layer2.1", "layer2.2", "layer3.0", "layer3.1",
                                          "layer3.2", "head"});
  const Tensor& x = file.at("input.x");
  Tensor y = x;
  for (const Block& b : blocks) y = b.forward(y);
  Tensor reference = model->forward(x);
  CHECK(bit_identical(y, reference));
  CHECK(y.sizes() == Shape{4, 10});

  // Replace layer1.0's relu2 (after the residual add) and the stem's relu with Identity: the
  // blocks taken before the swap call the new modules.
  model->replace_child("layer1.0.relu2", std::make_shared<Identity>());
  model->replace_child("relu", std::make_shared<Identity>());
  Tensor stem = blocks[0].forward(x);
  std::vector<float> sv = stem.to_vector<float>();
  CHECK(std::any_of(sv.begin(), sv.end(), [](float v) { return v < 0; }));
  Tensor swapped = model->forward(x);
  CHECK_FALSE(bit_identical(swapped, reference));
  Tensor z = x;
  for (const Block& b : blocks) z = b.forward(z);
  CHECK(bit_identical(z, swapped));
}

TEST_CASE("resnet_cifar: registry lists models, rejects unknown names, seeds init") {
  std::vector<std::string> names = model_names();
  for (const char* n : {"resnet20", "resnet32", "resnet44", "resnet56"}) {
    CHECK(std::find(names.begin(), names.end(), n) != names.end());
  }
  CHECK_THROWS_WITH_AS(create_model("resnet21", 10, 3, 0),
                       doctest::Contains("unknown model 'resnet21'; known models: resnet20, "),
                       Error);
  CHECK_THROWS_WITH_AS(create_model("resnet20", 0, 3, 0), doctest::Contains("num_classes"), Error);
  Rng rng(0);
  CHECK_THROWS_WITH_AS(CifarResNet(21, 3, 10, rng), doctest::Contains("6n + 2"), Error);

  ModelPtr a = create_model("resnet20", 10, 3, 5), b = create_model("resnet20", 10, 3, 5);
  ModelPtr c = create_model("resnet20", 10, 3, 6);
  CHECK(bit_identical(a->state_dict()[0].second, b->state_dict()[0].second));
  CHECK_FALSE(bit_identical(a->state_dict()[0].second, c->state_dict()[0].second));
  // kaiming_normal_ (fan in, ReLU gain) on convs, checked on the largest one (fan in 576).
  Tensor w = dynamic_cast<Conv2d&>(*a->find("layer3.2.conv2")).weight;
  REQUIRE(w.sizes() == Shape{64, 64, 3, 3});
  double sum2 = 0;
  for (float v : w.to_vector<float>()) sum2 += double(v) * v;
  CHECK(std::sqrt(sum2 / w.numel()) == doctest::Approx(std::sqrt(2.0 / 576)).epsilon(0.05));
  // A CIFAR-shaped input runs through.
  Tensor y = a->forward(Tensor::normal({2, 3, 32, 32}, rng));
  CHECK(y.sizes() == Shape{2, 10});
}
