// ResNet-20 training throughput (images/s) on the CPU at Fashion-MNIST shape, next to PyTorch
// (bench/resnet20_torch.py through Debian's python3-torch) with the same batch and threads.
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "autograd/engine.h"
#include "bench/bench.h"
#include "core/rng.h"
#include "models/registry.h"
#include "ops/loss.h"
#include "optim/optimizer.h"

using namespace nwq;

static double nwq_images_per_second(int64_t batch, int64_t size, int steps) {
  ModelPtr model = create_model("resnet20", 10, 1, 0);
  model->train();
  Sgd opt(model->parameters(), SgdOptions{0.05, 0.9, 5e-4, true});
  Rng rng(1);
  Tensor x = Tensor::normal({batch, 1, size, size}, rng);
  std::vector<int64_t> labels(batch);
  for (int64_t i = 0; i < batch; ++i) labels[i] = i % 10;
  Tensor y = Tensor::from_vector(labels, {batch});
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < steps + 2; ++i) {
    if (i == 2) start = std::chrono::steady_clock::now();
    opt.zero_grad();
    backward(cross_entropy(model->forward(x), y));
    opt.step();
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return double(batch * steps) / seconds;
}

static double run_torch(const std::string& python, int64_t batch, int64_t size, int threads,
                        int steps) {
  std::string cmd = str(python, " bench/resnet20_torch.py ", batch, " ", size, " ", threads, " ",
                        steps, " 2>/dev/null");
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return 0;
  char line[256] = {0};
  double rate = 0;
  while (std::fgets(line, sizeof line, pipe)) std::sscanf(line, "torch_images_per_second %lf", &rate);
  pclose(pipe);
  return rate;
}

// PyTorch from $NWQ_PYTHON, else Debian's /usr/bin/python3, else python3 on the PATH.
static double torch_images_per_second(int64_t batch, int64_t size, int threads, int steps) {
  if (const char* python = std::getenv("NWQ_PYTHON")) return run_torch(python, batch, size, threads, steps);
  double rate = run_torch("/usr/bin/python3", batch, size, threads, steps);
  return rate > 0 ? rate : run_torch("python3", batch, size, threads, steps);
}

void run_train_bench() {
  const int64_t batch = 128, size = 28;
  const int steps = 10;
  int threads = omp_get_max_threads();
  std::printf("\nResNet-20 training step, batch %lld, 1x%lldx%lld, %d threads (CPU)\n",
              (long long)batch, (long long)size, (long long)size, threads);
  double ours = nwq_images_per_second(batch, size, steps);
  double theirs = torch_images_per_second(batch, size, threads, steps);
  std::printf("  nwq      %8.1f images/s\n", ours);
  if (theirs > 0) {
    std::printf("  pytorch  %8.1f images/s\n  ratio nwq/pytorch %.2f (target >= 0.8)\n", theirs,
                ours / theirs);
  } else {
    std::printf("  pytorch  not available (apt-get install python3-torch)\n");
  }
}
