// Whole-model CPU/CUDA parity: one training step (forward, cross-entropy, backward, SGD) of
// ResNet-20 and MobileNetV2-CIFAR gives the same loss, gradients and updated weights.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/engine.h"
#include "core/allocator.h"
#include "core/rng.h"
#include "models/registry.h"
#include "ops/loss.h"
#include "optim/optimizer.h"
#include "tests/helpers.h"

using namespace nwq;

static double max_abs(const Tensor& t) {
  double m = 0;
  for (float v : t.to(Device::cpu()).to_vector<float>()) m = std::max(m, double(std::fabs(v)));
  return m;
}

static void check_training_step(const std::string& name, int64_t in_channels, int64_t size) {
  ModelPtr cpu = create_model(name, 10, static_cast<int>(in_channels), 3);
  ModelPtr gpu = create_model(name, 10, static_cast<int>(in_channels), 3);
  gpu->to(Device::cuda());
  Rng rng(5);
  Tensor x = Tensor::normal({4, in_channels, size, size}, rng);
  Tensor y = Tensor::from_vector<int64_t>({1, 7, 3, 3}, {4});
  Tensor loss_cpu = cross_entropy(cpu->forward(x), y);
  Tensor loss_gpu = cross_entropy(gpu->forward(x.to(Device::cuda())), y.to(Device::cuda()));
  CHECK(loss_gpu.item() == doctest::Approx(loss_cpu.item()).epsilon(1e-4));
  backward(loss_cpu);
  backward(loss_gpu);
  NamedTensors pc = cpu->named_parameters(), pg = gpu->named_parameters();
  REQUIRE(pc.size() == pg.size());
  for (size_t i = 0; i < pc.size(); ++i) {
    INFO(name, " gradient of ", pc[i].first);
    Tensor gc = pc[i].second.grad(), gg = pg[i].second.grad();
    REQUIRE(gg.defined());
    CHECK_CLOSE(gg, gc, 1e-3, 1e-3 * max_abs(gc) + 1e-7);
  }
  Sgd(cpu->parameters(), SgdOptions{0.1, 0.9, 5e-4, true}).step();
  Sgd(gpu->parameters(), SgdOptions{0.1, 0.9, 5e-4, true}).step();
  NamedTensors sc = cpu->state_dict(), sg = gpu->state_dict();
  for (size_t i = 0; i < sc.size(); ++i) {
    INFO(name, " after the step: ", sc[i].first);
    if (sc[i].second.dtype() == DType::F32) CHECK_CLOSE(sg[i].second, sc[i].second, 1e-4, 1e-5);
  }
}

TEST_SUITE("cuda") {
  TEST_CASE("cuda model: ResNet-20 training step matches the CPU") {
    if (!cuda_available()) {
      MESSAGE("skipped: no CUDA device");
      return;
    }
    check_training_step("resnet20", 1, 28);
  }

  TEST_CASE("cuda model: MobileNetV2-CIFAR training step matches the CPU") {
    if (!cuda_available()) {
      MESSAGE("skipped: no CUDA device");
      return;
    }
    check_training_step("mobilenetv2_cifar", 3, 32);
  }
}
