// ImageNet-shape ResNet-18 and MobileNetV2 (batch 64, 3x224x224, F32) inference and training
// step on the GPU, next to PyTorch eager (bench/models_torch.py) on the same GPU, TF32 off and on.
#include <chrono>
#include <cstdio>
#include <string>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "bench/bench.h"
#include "core/allocator.h"
#include "core/rng.h"
#include "models/registry.h"
#include "ops/loss.h"
#include "optim/optimizer.h"

using namespace nwq;

static void sync() {
  if (cuda_available()) cuda_backend().synchronize();
}

template <class F>
static double time_ms(F&& step, int steps) {
  for (int i = 0; i < 3; ++i) step();
  sync();
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) step();
  sync();
  return 1000.0 * std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() /
         steps;
}

struct StepTimes {
  double infer_ms = 0, train_ms = 0;
};

static StepTimes nwq_times(const std::string& name, int64_t batch, int steps) {
  Device gpu = Device::cuda();
  ModelPtr model = create_model(name, 1000, 3, 0);
  model->to(gpu);
  Rng rng(0);
  Tensor x = Tensor::normal({batch, 3, 224, 224}, rng).to(gpu);
  std::vector<int64_t> labels(batch);
  for (int64_t i = 0; i < batch; ++i) labels[i] = (i * 37) % 1000;
  Tensor y = Tensor::from_vector(labels, {batch}).to(gpu);
  Sgd opt(model->parameters(), SgdOptions{0.01, 0.9, 0.0, false});
  StepTimes t;
  model->eval();
  t.infer_ms = time_ms([&] {
    NoGradGuard no_grad;
    model->forward(x);
  }, steps);
  model->train();
  t.train_ms = time_ms([&] {
    opt.zero_grad();
    backward(cross_entropy(model->forward(x), y));
    opt.step();
  }, steps);
  return t;
}

static StepTimes torch_times(const std::string& name, int64_t batch, bool tf32, int steps) {
  std::string cmd = str("python3 bench/models_torch.py ", name, " ", batch, " ", tf32 ? 1 : 0, " ",
                        steps, " 2>/dev/null");
  StepTimes t;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return t;
  char line[256], model[64];
  while (std::fgets(line, sizeof line, pipe)) {
    std::sscanf(line, "torch %63s %lf %lf", model, &t.infer_ms, &t.train_ms);
  }
  pclose(pipe);
  return t;
}

void run_model_bench() {
  if (!cuda_available()) {
    std::printf("\nmodel bench: skipped (no CUDA device)\n");
    return;
  }
  const int64_t batch = 64;
  const int steps = 10;
  std::printf("\nImageNet-shape models, batch %lld, 3x224x224, F32, GPU (ms per step)\n",
              (long long)batch);
  std::printf("%-14s %-5s %10s %10s %7s %10s %10s %7s\n", "model", "tf32", "nwq infer",
              "torch", "ratio", "nwq train", "torch", "ratio");
  for (const char* name : {"resnet18", "mobilenet_v2"}) {
    for (bool tf32 : {false, true}) {
      cuda_backend().set_tf32(tf32);
      StepTimes ours = nwq_times(name, batch, steps);
      StepTimes theirs = torch_times(name, batch, tf32, steps);
      std::printf("%-14s %-5s %10.2f %10.2f %7.2f %10.2f %10.2f %7.2f\n", name, tf32 ? "on" : "off",
                  ours.infer_ms, theirs.infer_ms,
                  theirs.infer_ms > 0 ? ours.infer_ms / theirs.infer_ms : 0.0, ours.train_ms,
                  theirs.train_ms, theirs.train_ms > 0 ? ours.train_ms / theirs.train_ms : 0.0);
    }
  }
  cuda_backend().set_tf32(false);
}
