// Expected time of one quantization run per paper network (docs/IMAGENET.md section 5): on
// synthetic ImageNet-shape data, calibration seconds, ms per NWQ iteration and per QDrop unit
// iteration, extrapolated to the papers' 20,000 iterations. Env: NWQ_BENCH_MODELS, NWQ_BENCH_SIZE
// (224), NWQ_BENCH_BATCH (32), NWQ_BENCH_CALIB (1024), NWQ_BENCH_ITERS (20 per unit).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

#include "bench/bench.h"
#include "core/allocator.h"
#include "core/rng.h"
#include "models/registry.h"
#include "quant/pipeline.h"
#include "quant/quant_model.h"
#include "quant/reconstruct.h"

using namespace nwq;

namespace {

struct ReconstructTiming {
  double total = 0;  // reconstruct() wall time
  double loop = 0;   // inside the unit loops, summed over units
  size_t units = 0;
};

// One reconstruction of `iters` per unit. total - loop is the run's fixed part (FP and quantized
// unit inputs over all calibration images, hardening).
ReconstructTiming timed_reconstruct(const std::string& model_name, const std::string& method,
                                    const Tensor& calib, int64_t batch, int64_t iters) {
  QuantConfig c = preset_config(method, model_name);
  c.wbits = 2, c.abits = 4, c.batch = batch, c.iters = iters, c.calib = calib.size(0);
  ModelPtr model = create_model(model_name, 1000, 3, 0);
  model->to(calib.device());
  QuantModel qm(model, calib.slice(0, 0, 2), c);
  // Ranges from one batch: the reconstruction's cost does not depend on them.
  calibrate(qm, calib.slice(0, 0, batch));
  ReconstructOptions quiet;
  quiet.progress = false;
  ReconstructTiming t;
  const auto t0 = std::chrono::steady_clock::now();
  for (const UnitLog& u : reconstruct(qm, calib, quiet)) t.loop += u.seconds, ++t.units;
  t.total = seconds_since(t0);
  return t;
}

}  // namespace

void run_zoo_time_bench() {
  const int64_t size = env_int("NWQ_BENCH_SIZE", 224), batch = env_int("NWQ_BENCH_BATCH", 32);
  const int64_t images = env_int("NWQ_BENCH_CALIB", 1024), iters = env_int("NWQ_BENCH_ITERS", 20);
  const int64_t paper_iters = 20000;
  const char* list = std::getenv("NWQ_BENCH_MODELS");
  const Device device = cuda_available() ? Device::cuda() : Device::cpu();
  std::printf("\nExpected run time, W2A4, %lld synthetic images at %lld px, batch %lld, on %s\n"
              "(QDrop: %lld iterations per unit, extrapolated linearly to %lld; NWQ: %lld iterations)\n",
              (long long)images, (long long)size, (long long)batch, device.name().c_str(),
              (long long)iters, (long long)paper_iters, (long long)(4 * iters));
  std::printf("%-16s %8s %10s %10s %10s %12s %10s %12s\n", "model", "calib s", "nwq ms/it", "nwq min",
              "qdrop units", "qdrop ms/it", "fixed s", "qdrop min");
  Rng rng(0);
  Tensor calib = Tensor::normal({images, 3, size, size}, rng).to(device);
  std::istringstream names(list ? list
                                : "resnet18 resnet50 mobilenet_v2 regnet_x_600mf regnet_x_3_2gf mnasnet2_0");
  for (std::string name; names >> name;) {
    timed_reconstruct(name, "nwq", calib, batch, 3);  // warm-up: kernels, allocator
    // Calibration as a run does it (QDrop's observer, init_images through the FP network).
    QuantConfig c = preset_config("nwq", name);
    c.wbits = 2, c.abits = 4;
    ModelPtr model = create_model(name, 1000, 3, 0);
    model->to(device);
    QuantModel qm(model, calib.slice(0, 0, 2), c);
    auto t0 = std::chrono::steady_clock::now();
    calibrate(qm, calib.slice(0, 0, c.init_images));
    const double calib_s = seconds_since(t0);
    const ReconstructTiming n = timed_reconstruct(name, "nwq", calib, batch, 4 * iters);
    const double nwq_ms = 1000.0 * n.loop / double(4 * iters);
    const ReconstructTiming q = timed_reconstruct(name, "qdrop", calib, batch, iters);
    const double qdrop_ms = 1000.0 * q.loop / double(iters * int64_t(q.units));
    const double nwq_min = (calib_s + n.total - n.loop + nwq_ms * paper_iters / 1000.0) / 60.0;
    const double qdrop_min = (calib_s + q.total - q.loop + q.loop * double(paper_iters) / double(iters)) / 60.0;
    std::printf("%-16s %8.1f %10.2f %10.1f %10zu %12.2f %10.1f %12.1f\n", name.c_str(), calib_s, nwq_ms,
                nwq_min, q.units, qdrop_ms, q.total - q.loop, qdrop_min);
    std::fflush(stdout);
    if (!device.is_cpu()) cuda_backend().empty_cache();
  }
  std::printf("(minutes exclude loading the calibration images and the 50,000-image evaluation)\n");
}
