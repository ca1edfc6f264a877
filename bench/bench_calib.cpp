// Calibration time (issue #13, item 3): QDrop's MSE observer on every weight (per channel, 2-D
// search) and on every activation of 256 images (one forward through the FP network), for
// torchvision-shape ResNet-18 and ResNet-50 at 224 px, on the GPU when present (the search runs on
// the host's cores). Env: NWQ_BENCH_SIZE (224), NWQ_BENCH_CALIB (256), NWQ_BENCH_MODELS.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>

#include "bench/bench.h"
#include "core/allocator.h"
#include "core/rng.h"
#include "models/registry.h"
#include "quant/quant_model.h"
#include "quant/reconstruct.h"

using namespace nwq;

void run_calib_bench() {
  const int64_t size = env_int("NWQ_BENCH_SIZE", 224), images = env_int("NWQ_BENCH_CALIB", 256);
  const char* list = std::getenv("NWQ_BENCH_MODELS");
  const Device device = cuda_available() ? Device::cuda() : Device::cpu();
  std::printf("calibration (QDrop's MSE observer), %lld images at %lld px on %s, %u host threads\n",
              (long long)images, (long long)size, device.name().c_str(),
              std::thread::hardware_concurrency());
  std::printf("%-10s %-6s %12s %12s %12s\n", "model", "bits", "weights s", "acts s", "total s");
  Rng rng(0);
  Tensor x = Tensor::normal({images, 3, size, size}, rng).to(device);
  std::istringstream names(list ? list : "resnet18 resnet50");
  for (std::string name; names >> name;) {
    for (int wbits : {4, 2}) {
      QuantConfig c = preset_config("rtn", name);
      c.wbits = wbits, c.abits = 4, c.init_images = c.calib = images;
      ModelPtr model = create_model(name, 1000, 3, 0);
      model->to(device);
      QuantModel qm(model, x.slice(0, 0, 2), c);
      auto t0 = std::chrono::steady_clock::now();
      qm.init_weight_grids();
      const double weights = seconds_since(t0);
      t0 = std::chrono::steady_clock::now();
      calibrate(qm, x);  // weights again, then the activations
      const double total = seconds_since(t0);
      std::printf("%-10s W%dA4 %12.2f %12.2f %12.2f\n", name.c_str(), wbits, weights,
                  total - weights, total);
      std::fflush(stdout);
    }
  }
}
