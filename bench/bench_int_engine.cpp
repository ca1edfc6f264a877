// The CPU integer engine (issue #15, item 3): ImageNet-shape ResNet-18 (random init, RTN on a few
// random images) at W8A8 and W4A4, images/s of nwq's FP32 forward, fake-quant and --engine int at
// batch 1 and 32 in one run, with model sizes. Env: NWQ_BENCH_SIZE (224), NWQ_BENCH_ITERS (images
// per round, 32; batch 1: a quarter), NWQ_BENCH_ROUNDS (3, best kept), NWQ_BENCH_MODELS
// (resnet18), NWQ_BENCH_BITS ("8 4"). First: the packed convolution's GMAC/s in cache and on
// ResNet-18's 3x3 layer shapes (how close to the peak).
#include <omp.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "bench/bench.h"
#include "core/rng.h"
#include "deploy/int_conv.h"
#include "deploy/int_engine.h"
#include "models/registry.h"
#include "quant/export.h"
#include "quant/quant_model.h"
#include "quant/reconstruct.h"

using namespace nwq;

namespace {

// Images per second of `net` on batches of `batch` images, over at least `images` images.
double images_per_second(Module& net, const Tensor& x, int64_t batch, int64_t images) {
  NoGradGuard no_grad;
  const Tensor b = x.slice(0, 0, batch);
  const int64_t runs = std::max<int64_t>(1, (images + batch - 1) / batch);
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < runs; ++i) net.forward(b);
  return double(runs * batch) / seconds_since(t0);
}

// The best of `rounds` rounds for each of the three networks, timed in turn within each round (so
// a busy spell of the machine hits all three alike); one warm-up batch each first.
std::array<double, 3> best_rates(const std::array<Module*, 3>& nets, const Tensor& x, int64_t batch,
                                 int64_t images, int64_t rounds) {
  std::array<double, 3> best{0, 0, 0};
  for (Module* net : nets) images_per_second(*net, x, batch, 1);
  for (int64_t r = 0; r < rounds; ++r)
    for (size_t i = 0; i < nets.size(); ++i) best[i] = std::max(best[i], images_per_second(*nets[i], x, batch, images));
  return best;
}

// A quantized copy of `name` (same seed as the FP model) calibrated by RTN on `calib`.
std::shared_ptr<QuantModel> rtn_model(const std::string& name, int bits, const Tensor& calib) {
  QuantConfig c = preset_config("rtn", name);
  c.wbits = bits, c.abits = bits, c.calib = c.init_images = calib.size(0);
  ModelPtr model = create_model(name, 1000, 3, 0);
  auto qm = std::make_shared<QuantModel>(model, calib.slice(0, 0, 2), c);
  calibrate(*qm, calib);
  qm->eval();
  return qm;
}

// Where the integer engine's time went between two profiles, as shares of the total.
void print_split(const std::vector<std::pair<std::string, double>>& before,
                 const std::vector<std::pair<std::string, double>>& after) {
  double total = 0;
  for (size_t i = 0; i < after.size(); ++i) total += after[i].second - (i < before.size() ? before[i].second : 0);
  std::printf("    int time split:");
  for (size_t i = 0; i < after.size(); ++i) {
    const double t = after[i].second - (i < before.size() ? before[i].second : 0);
    std::printf(" %s %.0f%%%s", after[i].first.c_str(), 100 * t / total, i + 1 < after.size() ? "," : "\n");
  }
}

int64_t file_bytes(QuantModel& qm, const std::string& name) {
  const std::string path = (std::filesystem::temp_directory_path() / "nwq_bench_int.safetensors").string();
  save_quantized(qm, name, path);
  const int64_t bytes = int64_t(std::filesystem::file_size(path));
  std::filesystem::remove(path);
  return bytes;
}

// GMAC/s of the packed convolution (input packing + GEMM, epilogue a no-op) on a ResNet-18 layer
// shape, `reps` times.
double conv_gmacs(int64_t batch, int64_t channels, int64_t size, int64_t kernel, int reps) {
  const IntConvShape s{channels, size, size, kernel, kernel, 1, 1, kernel / 2, kernel / 2, 1, 1, 1};
  std::vector<uint8_t> w(size_t(channels * s.k()), 7), zw(size_t(channels), 8), x(size_t(batch * channels * size * size), 9);
  const IntConvWeights packed = pack_int_conv(best_int_isa(), s, channels, w.data(), zw.data(), 3);
  const auto sink = [](int64_t, int, int64_t, int, const int32_t*, int) {};
  IntConvInput in;
  const auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < reps; ++r) {
    prepare_int_input(packed, x.data(), batch, size, size, &in);
    run_int_conv(packed, in, sink);
  }
  return double(reps) * double(batch * size * size * channels * s.k()) / seconds_since(t0) / 1e9;
}

// GMAC/s of one core running the micro-kernel's largest tile on L1-resident operands (k = 1024):
// the ceiling the convolution can approach.
double tile_gmacs(int reps) {
  const IntIsa isa = best_int_isa();
  const IntLayout l = int_layout(isa);
  const int64_t words = 1024 / l.step, rows = int64_t(l.panel_rows) * l.max_panels;
  std::vector<int16_t> w(size_t(rows * 1024), 1), a(size_t(l.cols * 1024), 1);  // any bytes do
  std::vector<const void*> cols(size_t(l.cols));
  for (int n = 0; n < l.cols; ++n) cols[size_t(n)] = a.data() + n * 1024;
  std::vector<int32_t> out(size_t(rows * l.cols));
  const int64_t tap = 0;
  const IntTile t{w.data(), cols.data(), &tap, 1, words, nullptr, nullptr, nullptr, l.max_panels, l.cols, out.data()};
  const auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < reps; ++r) run_int_tile(isa, t);
  return double(reps) * double(rows * l.cols * 1024) / seconds_since(t0) / 1e9;
}

void print_conv_rates() {
  std::printf("packed int conv, GMAC/s: micro-kernel in L1, one core: %.0f (x threads: the ceiling)\n",
              tile_gmacs(20000));
  std::printf("    input packing + GEMM on all threads (no epilogue):");
  for (auto [ch, size] : {std::pair<int64_t, int64_t>{64, 56}, {128, 28}, {256, 14}, {512, 7}})
    std::printf(" 3x3 %lld ch %lldpx batch 32: %.0f;", (long long)ch, (long long)size, conv_gmacs(32, ch, size, 3, 3));
  std::printf("\n");
}

}  // namespace

void run_int_engine_bench() {
  const int64_t size = env_int("NWQ_BENCH_SIZE", 224), images = env_int("NWQ_BENCH_ITERS", 32);
  const int64_t rounds = env_int("NWQ_BENCH_ROUNDS", 3);
  const char* models = std::getenv("NWQ_BENCH_MODELS");
  const char* bits_env = std::getenv("NWQ_BENCH_BITS");
  std::printf("integer engine (CPU, %s, %d threads): images/s at %lld px, best of %lld rounds of %lld "
              "images (batch 1: %lld)\n", int_isa_name(best_int_isa()).c_str(), omp_get_max_threads(),
              (long long)size, (long long)rounds, (long long)images, (long long)(images / 4 + 1));
  print_conv_rates();
  std::printf("%-10s %-5s %5s %10s %10s %10s %8s %8s %10s %10s\n", "model", "bits", "batch", "fp32",
              "fake", "int", "int/fp32", "int/fake", "file MB", "packed MB");
  Rng rng(0);
  const Tensor x = Tensor::normal({32, 3, size, size}, rng);
  std::istringstream names(models ? models : "resnet18");
  for (std::string name; names >> name;) {
    ModelPtr fp = create_model(name, 1000, 3, 0);
    fp->eval();
    std::istringstream bit_list(bits_env ? bits_env : "8 4");
    for (int bits; bit_list >> bits;) {
      auto qm = rtn_model(name, bits, x.slice(0, 0, 4));
      OnnxExportOptions in;
      in.channels = 3, in.height = size, in.width = size, in.num_classes = 1000;
      IntEngine engine(*qm, name, in);
      const double file_mb = double(file_bytes(*qm, name)) / 1e6;
      const double packed_mb = double(engine.stats().packed_weight_bytes) / 1e6;
      for (int64_t batch : {int64_t{1}, int64_t{32}}) {
        const auto before = engine.profile();
        const auto r = best_rates({fp.get(), qm.get(), &engine}, x, batch, batch == 1 ? images / 4 + 1 : images, rounds);
        std::printf("%-10s W%dA%d %5lld %10.1f %10.1f %10.1f %8.2f %8.2f %10.2f %10.2f\n", name.c_str(),
                    bits, bits, (long long)batch, r[0], r[1], r[2], r[2] / r[0], r[2] / r[1], file_mb, packed_mb);
        print_split(before, engine.profile());
        std::fflush(stdout);
      }
    }
  }
}
