// ms per NWQ reconstruction iteration on torchvision-shape ResNet-18 (synthetic data, W2A4,
// network scope, ASoftmax, AMixup), next to the same iteration in PyTorch eager
// (bench/nwq_iter_torch.py) on the same device in the same run. GPU when present, else CPU.
// Env: NWQ_BENCH_SIZE (image side, 224), NWQ_BENCH_BATCH (32), NWQ_BENCH_ITERS (20),
// NWQ_BENCH_PYTHON (the python with torch and torchvision, default python3).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench/bench.h"
#include "core/allocator.h"
#include "core/error.h"
#include "core/rng.h"
#include "models/registry.h"
#include "quant/pipeline.h"
#include "quant/quant_model.h"
#include "quant/reconstruct.h"

using namespace nwq;

namespace {

double torch_ms(int64_t size, int64_t batch, int64_t iters, const std::string& device) {
  const char* python = std::getenv("NWQ_BENCH_PYTHON");
  std::string cmd = str(python ? python : "python3", " bench/nwq_iter_torch.py ", size, " ", batch, " ", iters, " ",
                        device, " 2 4 2>/dev/null");
  double ms = 0;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return 0;
  char line[256];
  while (std::fgets(line, sizeof line, pipe)) std::sscanf(line, "torch nwqiter %lf", &ms);
  pclose(pipe);
  return ms;
}

}  // namespace

void run_nwq_bench() {
  const int64_t size = env_int("NWQ_BENCH_SIZE", 224), batch = env_int("NWQ_BENCH_BATCH", 32);
  const int64_t iters = env_int("NWQ_BENCH_ITERS", 20);
  const Device device = cuda_available() ? Device::cuda() : Device::cpu();
  QuantConfig c = preset_config("nwq", "resnet18");
  c.wbits = 2, c.abits = 4, c.batch = batch, c.calib = 4 * batch, c.init_images = batch;
  Rng rng(0);
  Tensor calib = Tensor::normal({c.calib, 3, size, size}, rng).to(device);
  ReconstructOptions quiet;
  quiet.progress = false;
  // One prepared model per run: a short warm-up run (caching allocator, kernels), then the timed
  // one; UnitLog::seconds covers the iteration loop alone (it stops before hardening).
  auto run = [&](int64_t n) {
    QuantConfig cn = c;
    cn.iters = n;
    ModelPtr model = create_model("resnet18", 1000, 3, 0);
    model->to(device);
    QuantModel qm(model, calib.slice(0, 0, 2), cn);
    calibrate(qm, calib.slice(0, 0, batch));
    if (!device.is_cpu()) cuda_backend().reset_peak();
    return reconstruct(qm, calib, quiet).at(0).seconds;
  };
  run(3);
  if (!device.is_cpu()) cuda_backend().empty_cache();  // the timed run's memory alone
  const double nwq_ms = 1000.0 * run(iters) / double(iters);
  const double torch = torch_ms(size, batch, iters, device.is_cpu() ? "cpu" : "cuda");
  std::printf("\nNWQ iteration, resnet18 %lldx%lld batch %lld W2A4 on %s (ms per iteration)\n",
              (long long)size, (long long)size, (long long)batch, device.name().c_str());
  std::printf("  nwq %.2f   torch %s   ratio nwq/torch %s\n", nwq_ms,
              torch > 0 ? str(torch).c_str() : "(not installed)",
              torch > 0 ? str(nwq_ms / torch).c_str() : "-");
  std::printf("  peak host memory %.0f MB", double(peak_host_memory()) / 1e6);
  if (!device.is_cpu()) {
    const DeviceMemoryStats m = cuda_backend().memory_stats();
    std::printf(", peak GPU memory %.0f MB in use, %.0f MB reserved by the caching allocator",
                double(m.peak) / 1e6, double(m.in_use + m.cached) / 1e6);
  }
  std::printf("\n");
}
