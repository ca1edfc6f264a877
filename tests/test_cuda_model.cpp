// Whole-model CPU/CUDA parity: eval logits, and one training forward/backward (train-mode BN,
// cross-entropy) of ResNet-20, MobileNetV2-CIFAR, RegNetX and MNASNet: same loss, gradients, BN stats.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/engine.h"
#include "core/allocator.h"
#include "core/rng.h"
#include "models/registry.h"
#include "ops/loss.h"
#include "tests/helpers.h"

using namespace nwq;
using test::max_abs;

// Gradients are compared with rtol 1e-3 and an absolute tolerance of 1e-3 of the largest
// gradient of the whole model (some BN-bias gradients are zero by construction and hold only
// rounding noise). train_mode picks batch-statistics BN for the backward pass: MobileNetV2-CIFAR
// is checked in eval mode because train-mode BN over its 4x4 planes is chaotic in float32
// (measured on the CPU alone: perturbing the input by 1e-7 moves its gradients by more than
// 1e-3 of their range), so no two summation orders agree; its train-mode BN is covered per op.
static void check_step(const std::string& name, int64_t in_channels, int64_t size, int64_t batch,
                       bool train_mode) {
  ModelPtr cpu = create_model(name, 10, static_cast<int>(in_channels), 3);
  ModelPtr gpu = create_model(name, 10, static_cast<int>(in_channels), 3);
  gpu->to(Device::cuda());
  Rng rng(5);
  Tensor x = Tensor::normal({batch, in_channels, size, size}, rng);
  std::vector<int64_t> labels(batch);
  for (int64_t i = 0; i < batch; ++i) labels[i] = (i * 7) % 10;
  Tensor y = Tensor::from_vector(labels, {batch});
  cpu->eval();
  gpu->eval();
  {
    Tensor lc = cpu->forward(x), lg = gpu->forward(x.to(Device::cuda()));
    INFO(name, " eval logits");
    CHECK_CLOSE(lg, lc, 1e-4, 1e-4 * max_abs(lc));
  }
  cpu->train(train_mode);
  gpu->train(train_mode);
  Tensor loss_cpu = cross_entropy(cpu->forward(x), y);
  Tensor loss_gpu = cross_entropy(gpu->forward(x.to(Device::cuda())), y.to(Device::cuda()));
  CHECK(loss_gpu.item() == doctest::Approx(loss_cpu.item()).epsilon(1e-4));
  backward(loss_cpu);
  backward(loss_gpu);
  NamedTensors pc = cpu->named_parameters(), pg = gpu->named_parameters();
  REQUIRE(pc.size() == pg.size());
  double largest = 0;
  for (const auto& [key, p] : pc) largest = std::max(largest, max_abs(p.grad()));
  for (size_t i = 0; i < pc.size(); ++i) {
    INFO(name, " gradient of ", pc[i].first);
    Tensor gc = pc[i].second.grad(), gg = pg[i].second.grad();
    REQUIRE(gg.defined());
    CHECK_CLOSE(gg, gc, 1e-3, 1e-3 * largest);
  }
  NamedTensors bc = cpu->named_buffers(), bg = gpu->named_buffers();
  for (size_t i = 0; i < bc.size(); ++i) {
    INFO(name, " buffer ", bc[i].first);
    if (bc[i].second.dtype() == DType::F32) {
      CHECK_CLOSE(bg[i].second, bc[i].second, 1e-4, 1e-4 * max_abs(bc[i].second));
    } else {
      CHECK(bg[i].second.to_vector<int64_t>() == bc[i].second.to_vector<int64_t>());
    }
  }
}

TEST_SUITE("cuda") {
  TEST_CASE("cuda model: ResNet-20 eval and training step match the CPU") {
    check_step("resnet20", 1, 28, 8, true);
  }

  TEST_CASE("cuda model: MobileNetV2-CIFAR eval forward and backward match the CPU") {
    check_step("mobilenetv2_cifar", 3, 32, 8, false);
  }

  // Grouped (RegNetX: 24 channels a group) and depthwise (MNASNet) convolutions of the paper's
  // other networks, in eval mode for the same reason as MobileNetV2 (small planes at the end).
  TEST_CASE("cuda model: RegNetX-600MF and MNASNet-1.0 eval forward and backward match the CPU") {
    check_step("regnet_x_600mf", 3, 64, 4, false);
    check_step("mnasnet1_0", 3, 64, 4, false);
  }
}
