// The model zoo (torchvision ResNet-18/34/50, MobileNetV2, their CIFAR variants; goldens of
// RegNetX and MNASNet too, whose other tests are in test_model_zoo_paper.cpp): parameter
// counts, names, the blocks() structure and feature-map sizes, checkpoint-name normalisation,
// and, when `make golden` has written build/golden/, eval logits, loss and gradients vs PyTorch.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "models/mobilenet_v2.h"
#include "models/registry.h"
#include "models/resnet.h"
#include "ops/loss.h"
#include "tests/helpers.h"
#include "tests/model_test_util.h"

using namespace nwq;

namespace {

using test::block_names;
using test::block_shapes;
using test::golden_state;
using test::has_key;
using test::max_abs;

// Train mode (batch statistics) with dropout off, as tests/golden/make_zoo_goldens.py does.
void train_without_dropout(Module& model) {
  model.train();
  for (auto& [name, m] : model.named_modules()) {
    if (dynamic_cast<Dropout*>(m)) m->train(false);
  }
}

// The golden comparison for one torchvision model: names, order, shapes and dtypes of the
// state_dict; eval logits (max error 1e-4 of max |logit|); train-mode logits, loss, every
// parameter gradient (1e-3 of the gradient's max magnitude) and the BN buffers afterwards.
// The generator picked an input on which PyTorch's own float32 and float64 gradients agree.
void check_against_torch(const std::string& name) {
  std::string path = "build/golden/" + name + ".safetensors";
  if (!std::ifstream(path).good()) {
    MESSAGE("skipped: run make golden (", path, " is missing)");
    return;
  }
  TensorFile file = load_safetensors(path);
  NamedTensors golden = golden_state(file);
  ModelPtr model = create_model(name, 1000, 3, 0);
  NamedTensors ours = model->state_dict();
  REQUIRE(ours.size() == golden.size());
  for (size_t i = 0; i < ours.size(); ++i) {
    CAPTURE(golden[i].first);
    CHECK(ours[i].first == golden[i].first);
    CHECK(ours[i].second.sizes() == golden[i].second.sizes());
    CHECK(ours[i].second.dtype() == golden[i].second.dtype());
  }
  model->load_state_dict(golden, true, file.path);
  const Tensor& x = file.at("input.x");

  model->eval();
  {
    NoGradGuard no_grad;
    const Tensor& want = file.at("eval.logits");
    CHECK_CLOSE(model->forward(x), want, 0.0, 1e-4 * max_abs(want));
  }
  train_without_dropout(*model);
  Tensor logits = model->forward(x);
  CHECK_CLOSE(logits, file.at("train.logits"), 0.0, 1e-4 * max_abs(file.at("train.logits")));
  Tensor loss = cross_entropy(logits, file.at("input.target"));
  CHECK_CLOSE(loss, file.at("train.loss"), 1e-4, 1e-5);
  backward(loss);
  // Some gradients are zero by construction (a BN bias whose output only reaches a conv followed
  // by a train-mode BN, which removes any per-channel constant): both sides hold float noise
  // there, so those are only checked to be negligible next to the model's largest gradient.
  double top = 0;
  for (const auto& [pname, p] : model->named_parameters()) {
    top = std::max(top, max_abs(file.at("grad." + pname)));
  }
  for (const auto& [pname, p] : model->named_parameters()) {
    CAPTURE(pname);
    const Tensor& want = file.at("grad." + pname);
    REQUIRE(p.grad().defined());
    if (max_abs(want) < 1e-4 * top) CHECK(max_abs(p.grad()) < 1e-4 * top);
    else CHECK_CLOSE(p.grad(), want, 1e-3, 1e-3 * max_abs(want));
  }
  for (const auto& [bname, b] : model->named_buffers()) {
    CAPTURE(bname);
    const Tensor& want = file.at("train_after." + bname);
    if (b.dtype() == DType::I64) CHECK(b.item() == want.item());
    else CHECK_CLOSE(b, want, 1e-4, 1e-4 * max_abs(want));
  }
}

}  // namespace

TEST_CASE("model_zoo: resnet18 matches torchvision (golden)") { check_against_torch("resnet18"); }
TEST_CASE("model_zoo: resnet50 matches torchvision (golden)") { check_against_torch("resnet50"); }
TEST_CASE("model_zoo: mobilenet_v2 matches torchvision (golden)") {
  check_against_torch("mobilenet_v2");
}

TEST_CASE("model_zoo: regnet_x_600mf matches torchvision's RegNet (golden)") {
  check_against_torch("regnet_x_600mf");
}
TEST_CASE("model_zoo: regnet_x_3_2gf matches torchvision (golden)") {
  check_against_torch("regnet_x_3_2gf");
}
TEST_CASE("model_zoo: mnasnet1_0 matches torchvision (golden)") { check_against_torch("mnasnet1_0"); }
TEST_CASE("model_zoo: mnasnet2_0 matches torchvision's MNASNet(2.0) (golden)") {
  check_against_torch("mnasnet2_0");
}

TEST_CASE("model_zoo: torchvision parameter counts, names and structure") {
  ModelPtr r18 = create_model("resnet18", 1000, 3, 0);
  CHECK(r18->num_parameters() == 11689512);
  CHECK(create_model("resnet34", 1000, 3, 0)->num_parameters() == 21797672);
  ModelPtr r50 = create_model("resnet50", 1000, 3, 0);
  CHECK(r50->num_parameters() == 25557032);
  ModelPtr mb = create_model("mobilenet_v2", 1000, 3, 0);
  CHECK(mb->num_parameters() == 3504872);
  CHECK(create_model("resnet18", 10, 1, 0)->num_parameters() == 11689512 - 64 * 2 * 49 - 990 * 513);

  NamedTensors s18 = r18->state_dict(), s50 = r50->state_dict(), smb = mb->state_dict();
  CHECK(s18.front().first == "conv1.weight");
  CHECK(s18.back().first == "fc.bias");
  CHECK(has_key(s18, "layer2.0.downsample.0.weight"));
  CHECK(has_key(s18, "layer2.0.downsample.1.num_batches_tracked"));
  CHECK_FALSE(has_key(s18, "layer1.0.downsample.0.weight"));  // 64 -> 64, stride 1: none
  CHECK(has_key(s50, "layer1.0.downsample.0.weight"));        // 64 -> 256
  CHECK(has_key(s50, "layer4.2.bn3.running_var"));
  CHECK(has_key(smb, "features.3.conv.1.1.weight"));
  CHECK(has_key(smb, "features.1.conv.2.running_mean"));  // t = 1: no expansion conv
  CHECK(has_key(smb, "features.18.0.weight"));
  CHECK(smb.back().first == "classifier.1.bias");
  for (const auto& [name, t] : s50) {
    bool counter = name.size() > 19 && name.substr(name.size() - 19) == "num_batches_tracked";
    CHECK(t.dtype() == (counter ? DType::I64 : DType::F32));
  }
  CHECK(r18->find("layer1.0.relu")->type_name() == "ReLU");
  CHECK(r50->find("layer3.5.relu")->type_name() == "ReLU");
  CHECK(r18->find("maxpool")->type_name() == "MaxPool2d");
  CHECK(mb->find("features.5.conv.0.2")->type_name() == "ReLU6");
  CHECK(mb->find("classifier.0")->type_name() == "Dropout");
  CHECK(dynamic_cast<Dropout&>(*mb->find("classifier.0")).p() == doctest::Approx(0.2));
  CHECK_FALSE(dynamic_cast<InvertedResidual&>(*mb->find("features.2")).use_res_connect());
  CHECK(dynamic_cast<InvertedResidual&>(*mb->find("features.3")).use_res_connect());

  std::vector<std::string> names = block_names(*r50);
  REQUIRE(names.size() == 18);
  CHECK(names.front() == "stem");
  CHECK(names[1] == "layer1.0");
  CHECK(names[16] == "layer4.2");
  CHECK(names.back() == "head");
  names = block_names(*mb);
  REQUIRE(names.size() == 20);
  CHECK(names[1] == "features.1");
  CHECK(names[17] == "features.17");
  CHECK(names[18] == "features.18");  // the last 1x1 conv is a unit of its own (BRECQ/QDrop)
  CHECK(names.back() == "head");
  // A small ImageNet-style input: 64 -> 32 (conv1) -> 16 (maxpool) -> 16, 8, 4, 2.
  Rng rng(7);
  std::vector<Shape> shapes = block_shapes(*r18, Tensor::normal({1, 3, 64, 64}, rng));
  CHECK(shapes[0] == Shape{1, 64, 16, 16});
  CHECK(shapes[8] == Shape{1, 512, 2, 2});
  CHECK(shapes.back() == Shape{1, 1000});
}

TEST_CASE("model_zoo: resnet18_cifar keeps 32x32 through layer1 and ends at 4x4") {
  ModelPtr model = create_model("resnet18_cifar", 10, 3, 0);
  CHECK(model->num_parameters() == 11173962);
  CHECK(dynamic_cast<Conv2d&>(*model->find("conv1")).weight.sizes() == Shape{64, 3, 3, 3});
  CHECK(dynamic_cast<Conv2d&>(*model->find("conv1")).params().stride_h == 1);
  CHECK(model->find("maxpool")->type_name() == "Identity");
  Rng rng(3);
  Tensor x = Tensor::normal({2, 3, 32, 32}, rng);
  std::vector<Shape> shapes = block_shapes(*model, x);
  std::vector<Shape> want = {{2, 64, 32, 32},  {2, 64, 32, 32},  {2, 64, 32, 32},
                             {2, 128, 16, 16}, {2, 128, 16, 16}, {2, 256, 8, 8},
                             {2, 256, 8, 8},   {2, 512, 4, 4},   {2, 512, 4, 4},
                             {2, 10}};
  CHECK(shapes == want);

  // The one `relu` of a BasicBlock is used twice; swapping it is seen by blocks() and forward.
  NoGradGuard no_grad;
  std::vector<Block> blocks = model->blocks();
  Tensor before = model->forward(x);
  model->replace_child("layer1.0.relu", std::make_shared<Identity>());
  Tensor y = x;
  for (const Block& b : blocks) y = b.forward(y);
  CHECK(test::max_abs_diff(y, model->forward(x)) == 0.0);
  CHECK(test::max_abs_diff(y, before) > 0.0);
}

TEST_CASE("model_zoo: mobilenetv2_cifar changes two strides and ends at 4x4") {
  ModelPtr model = create_model("mobilenetv2_cifar", 10, 3, 0);
  CHECK(model->num_parameters() == 2236682);
  CHECK(dynamic_cast<Conv2d&>(*model->find("features.0.0")).params().stride_h == 1);
  CHECK(dynamic_cast<Conv2d&>(*model->find("features.2.conv.1.0")).params().stride_h == 1);
  CHECK(dynamic_cast<Conv2d&>(*model->find("features.4.conv.1.0")).params().stride_h == 2);
  Rng rng(4);
  std::vector<Shape> shapes = block_shapes(*model, Tensor::normal({2, 3, 32, 32}, rng));
  REQUIRE(shapes.size() == 20);
  auto at = [&](int feature) { return shapes[feature]; };  // block i is features.i; 19 = head
  CHECK(at(0) == Shape{2, 32, 32, 32});
  CHECK(at(1) == Shape{2, 16, 32, 32});
  CHECK(at(3) == Shape{2, 24, 32, 32});
  CHECK(at(4) == Shape{2, 32, 16, 16});
  CHECK(at(7) == Shape{2, 64, 8, 8});
  CHECK(at(13) == Shape{2, 96, 8, 8});
  CHECK(at(14) == Shape{2, 160, 4, 4});
  CHECK(at(17) == Shape{2, 320, 4, 4});
  CHECK(at(18) == Shape{2, 1280, 4, 4});
  CHECK(at(19) == Shape{2, 10});
  // The ImageNet model: 64 -> 32 (stem) -> 32 -> 16 (features.2) -> ... -> 2 (features.14).
  ModelPtr imagenet = create_model("mobilenet_v2", 5, 3, 0);
  shapes = block_shapes(*imagenet, Tensor::normal({1, 3, 64, 64}, rng));
  CHECK(shapes[0] == Shape{1, 32, 32, 32});
  CHECK(shapes[2] == Shape{1, 24, 16, 16});
  CHECK(shapes[17] == Shape{1, 320, 2, 2});
}
