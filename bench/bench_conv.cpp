// conv2d CPU benchmark on the conv layers of ResNet-20 (CIFAR, batch 128, 32x32) and ResNet-18
// (ImageNet, batch 8, 224x224): forward and backward (input + weight) GFLOP/s, against OpenBLAS
// sgemm on the same GEMM sizes in the same run (the per-image GEMMs the conv kernels issue).
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
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

// Median wall time of `reps` runs after `warmup` runs.
double median_time(const std::function<void()>& f, int warmup = 2, int reps = 7) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const double t0 = seconds();
    f();
    t.push_back(seconds() - t0);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

std::vector<float> random_buffer(int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = rng.uniform(-1.0f, 1.0f);
  return v;
}

// The best of the two ways to run the conv's N per-image GEMMs [M, K] x [K, ncols]: spread over
// OpenMP threads with single-threaded OpenBLAS, or one after another with OpenBLAS's threads.
double sgemm_time(int images, int M, int ncols, int K) {
  const std::vector<float> a = random_buffer(int64_t(M) * K, 1), b = random_buffer(int64_t(K) * ncols, 2);
  const int threads = omp_get_max_threads();
  std::vector<float> c(size_t(threads) * M * ncols);
  GemmParams p;
  p.m = M, p.n = ncols, p.k = K, p.lda = K, p.ldb = ncols, p.ldc = ncols;
  const double spread = median_time([&] {
    BlasThreadsGuard single(1);
#pragma omp parallel for schedule(static)
    for (int n = 0; n < images; ++n) {
      cpu_gemm(p, a.data(), b.data(), c.data() + size_t(omp_get_thread_num()) * M * ncols);
    }
  });
  const double serial = median_time([&] {
    for (int n = 0; n < images; ++n) cpu_gemm(p, a.data(), b.data(), c.data());
  });
  return std::min(spread, serial);
}

void bench_layer(const ConvLayer& l) {
  Conv2dShape s;
  s.N = l.N, s.C = l.C, s.H = s.W = l.H, s.O = l.O, s.KH = s.KW = l.K;
  s.p.stride_h = s.p.stride_w = l.stride, s.p.pad_h = s.p.pad_w = l.pad;
  s.OH = s.OW = (l.H + 2 * l.pad - l.K) / l.stride + 1;
  const int64_t x_size = int64_t(s.N) * s.C * s.H * s.W, y_size = int64_t(s.N) * s.O * s.OH * s.OW;
  const int K = s.C * s.KH * s.KW, ncols = s.OH * s.OW;
  const std::vector<float> x = random_buffer(x_size, 3), w = random_buffer(int64_t(s.O) * K, 4);
  const std::vector<float> b = random_buffer(s.O, 5), gy = random_buffer(y_size, 6);
  std::vector<float> y(y_size), gx(x_size), gw(int64_t(s.O) * K);
  const Device cpu = Device::cpu();
  const double t_fwd = median_time([&] {
    conv2d_forward_kernel.get<float>(cpu)(x.data(), w.data(), b.data(), y.data(), s);
  });
  const double t_bwd = median_time([&] {
    conv2d_backward_input_kernel.get<float>(cpu)(gy.data(), w.data(), gx.data(), s);
    conv2d_backward_weight_kernel.get<float>(cpu)(x.data(), gy.data(), gw.data(), s);
  });
  const double t_gemm = sgemm_time(s.N, s.O, ncols, K);
  const double gflop = 2.0 * s.N * s.O * ncols * K / 1e9;
  std::printf("%-34s %5d %6d %5d | %7.1f %7.1f %7.1f | %5.2f\n", l.name, s.O, ncols, K,
              gflop / t_fwd, 2 * gflop / t_bwd, gflop / t_gemm, t_gemm / t_fwd);
}

}  // namespace
}  // namespace nwq

void run_conv_bench() {
  std::printf("conv2d (float32, CPU): %d OpenMP threads, OpenBLAS %s, %d threads\n",
              omp_get_max_threads(), openblas_get_config(), openblas_get_num_threads());
  std::printf("GFLOP/s, median of 7 after 2 warm-ups; sgemm = the conv's per-image GEMMs alone\n");
  std::printf("%-34s %5s %6s %5s | %7s %7s %7s | %5s\n", "layer", "M", "N", "K", "fwd", "bwd",
              "sgemm", "fwd/sgemm");
  for (const nwq::ConvLayer& l : nwq::kLayers) nwq::bench_layer(l);
}
