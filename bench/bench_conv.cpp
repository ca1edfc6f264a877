// conv2d CPU benchmark on the conv layers of ResNet-20 (CIFAR, batch 128, 32x32) and ResNet-18
// (ImageNet, batch 8, 224x224): forward and backward (input + weight) GFLOP/s, against OpenBLAS
// sgemm on the same GEMM sizes in the same run (the per-image GEMMs the conv kernels issue).
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <thread>
#include <vector>

#include "bench/bench.h"
#include "core/rng.h"
#include "ops/conv2d.h"
#include "ops/linear.h"

namespace nwq {
namespace {

struct ConvLayer {
  const char* name;
  int N, C, H, O, K, stride, pad;  // square input H x H, square kernel K x K, groups 1
};

const std::vector<ConvLayer> kLayers = {
    {"r20 conv1 3->16 3x3 @32", 128, 3, 32, 16, 3, 1, 1},
    {"r20 layer1 16->16 3x3 @32", 128, 16, 32, 16, 3, 1, 1},
    {"r20 layer2.0 16->32 3x3/2 @32", 128, 16, 32, 32, 3, 2, 1},
    {"r20 layer2 32->32 3x3 @16", 128, 32, 16, 32, 3, 1, 1},
    {"r20 layer3.0 32->64 3x3/2 @16", 128, 32, 16, 64, 3, 2, 1},
    {"r20 layer3 64->64 3x3 @8", 128, 64, 8, 64, 3, 1, 1},
    {"r18 conv1 3->64 7x7/2 @224", 8, 3, 224, 64, 7, 2, 3},
    {"r18 layer1 64->64 3x3 @56", 8, 64, 56, 64, 3, 1, 1},
    {"r18 layer2.0 64->128 3x3/2 @56", 8, 64, 56, 128, 3, 2, 1},
    {"r18 layer2.0 ds 64->128 1x1/2", 8, 64, 56, 128, 1, 2, 0},
    {"r18 layer2 128->128 3x3 @28", 8, 128, 28, 128, 3, 1, 1},
    {"r18 layer3.0 128->256 3x3/2 @28", 8, 128, 28, 256, 3, 2, 1},
    {"r18 layer3.0 ds 128->256 1x1/2", 8, 128, 28, 256, 1, 2, 0},
    {"r18 layer3 256->256 3x3 @14", 8, 256, 14, 256, 3, 1, 1},
    {"r18 layer4.0 256->512 3x3/2 @14", 8, 256, 14, 512, 3, 2, 1},
    {"r18 layer4.0 ds 256->512 1x1/2", 8, 256, 14, 512, 1, 2, 0},
    {"r18 layer4 512->512 3x3 @7", 8, 512, 7, 512, 3, 1, 1},
};

double seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double time_once(const std::function<void()>& f) {
  const double t0 = seconds();
  f();
  return seconds() - t0;
}

double median(std::vector<double> t) {
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Runs the functions in turn, `rounds` times after one warm-up round, and returns each one's
// median time. Interleaving keeps ratios honest when the machine's speed drifts.
std::vector<double> interleaved_medians(const std::vector<std::function<void()>>& fs,
                                        int rounds = 11) {
  std::vector<std::vector<double>> t(fs.size());
  for (int r = 0; r <= rounds; ++r) {
    for (size_t i = 0; i < fs.size(); ++i) {
      const double dt = time_once(fs[i]);
      if (r > 0) t[i].push_back(dt);
    }
  }
  std::vector<double> out;
  for (auto& ti : t) out.push_back(median(ti));
  return out;
}

std::vector<float> random_buffer(int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = rng.uniform(-1.0f, 1.0f);
  return v;
}

// The conv's GEMMs alone: `images` GEMMs [M, K] x [K, ncols] spread over OpenMP threads with
// single-threaded OpenBLAS (as the conv kernels run them).
struct GemmBench {
  int images, M, ncols, K;
  std::vector<float> a, b, c;
  GemmBench(int images_, int M_, int ncols_, int K_)
      : images(images_), M(M_), ncols(ncols_), K(K_), a(random_buffer(int64_t(M) * K, 1)),
        b(random_buffer(int64_t(K) * ncols, 2)), c(size_t(omp_get_max_threads()) * M * ncols) {}
  void one(float* out) const {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, ncols, K, 1.0f, a.data(), K,
                b.data(), ncols, 0.0f, out, ncols);
  }
  void spread() {
    BlasThreadsGuard single(1);
#pragma omp parallel for schedule(static)
    for (int n = 0; n < images; ++n) one(c.data() + size_t(omp_get_thread_num()) * M * ncols);
  }
  // The same GEMMs one after another with OpenBLAS's own threads, then a pause so that its
  // spinning threads park before anything else is measured.
  double blas_threaded_time() {
    std::vector<double> t;
    for (int r = 0; r < 8; ++r) t.push_back(time_once([&] {
      for (int n = 0; n < images; ++n) one(c.data());
    }));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return median(t);
  }
};

// Prints one table row; returns forward / sgemm.
double bench_layer(const ConvLayer& l) {
  Conv2dShape s;
  s.N = l.N, s.C = l.C, s.H = s.W = l.H, s.O = l.O, s.KH = s.KW = l.K;
  s.p.stride_h = s.p.stride_w = l.stride, s.p.pad_h = s.p.pad_w = l.pad;
  s.OH = s.OW = (l.H + 2 * l.pad - l.K) / l.stride + 1;
  const int64_t x_size = int64_t(s.N) * s.C * s.H * s.W, y_size = int64_t(s.N) * s.O * s.OH * s.OW;
  const int K = s.C * s.KH * s.KW, ncols = s.OH * s.OW;
  const std::vector<float> x = random_buffer(x_size, 3), w = random_buffer(int64_t(s.O) * K, 4);
  const std::vector<float> gy = random_buffer(y_size, 6);
  std::vector<float> y(y_size), gx(x_size), gw(int64_t(s.O) * K);
  const Device cpu = Device::cpu();
  GemmBench gemm(s.N, s.O, ncols, K);
  const std::vector<double> t = interleaved_medians({
      [&] { conv2d_forward_kernel.get<float>(cpu)(x.data(), w.data(), nullptr, y.data(), s); },
      [&] {
        conv2d_backward_input_kernel.get<float>(cpu)(gy.data(), w.data(), gx.data(), s);
        conv2d_backward_weight_kernel.get<float>(cpu)(x.data(), gy.data(), gw.data(), s);
      },
      [&] { gemm.spread(); }});
  const double t_fwd = t[0], t_bwd = t[1], t_gemm = std::min(t[2], gemm.blas_threaded_time());
  const double gflop = 2.0 * s.N * s.O * ncols * K / 1e9;
  std::printf("%-34s %5d %6d %5d | %7.1f %7.1f %7.1f | %5.2f\n", l.name, s.O, ncols, K,
              gflop / t_fwd, 2 * gflop / t_bwd, gflop / t_gemm, t_gemm / t_fwd);
  return t_gemm / t_fwd;
}

}  // namespace
}  // namespace nwq

void run_conv_bench() {
  std::printf("conv2d (float32, CPU): %d OpenMP threads, OpenBLAS %s, %d threads\n",
              omp_get_max_threads(), openblas_get_config(), openblas_get_num_threads());
  std::printf("GFLOP/s, medians of 11 interleaved rounds after a warm-up, no bias (as in ResNets);\n"
              "sgemm = the conv's per-image GEMMs M x N x K alone, the faster of OpenMP-spread\n"
              "(1-thread OpenBLAS per image) and OpenBLAS-threaded\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // OpenBLAS's start-up spin
  std::printf("%-34s %5s %6s %5s | %7s %7s %7s | %5s\n", "layer", "M", "N", "K", "fwd", "bwd",
              "sgemm", "fwd/sgemm");
  double log_sum = 0, worst = 1e9;
  int n3x3 = 0, below = 0;
  for (const nwq::ConvLayer& l : nwq::kLayers) {
    const double ratio = nwq::bench_layer(l);
    if (l.K != 3) continue;
    log_sum += std::log(ratio), worst = std::min(worst, ratio), ++n3x3;
    if (ratio < 0.7) ++below;
  }
  std::printf("3x3 layers: forward/sgemm geometric mean %.2f, worst %.2f, %d of %d below the 0.70 "
              "target\n", std::exp(log_sum / n3x3), worst, below, n3x3);
}
