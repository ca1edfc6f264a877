// GPU conv2d forward and backward TFLOP/s for ResNet-18's conv shapes (batch 64, 224x224 input)
// next to a cuBLAS sgemm of the same GEMM size (through nwq's matmul), TF32 off and on.
#include <chrono>
#include <cstdio>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "bench/bench.h"
#include "core/allocator.h"
#include "core/rng.h"
#include "ops/conv2d.h"
#include "ops/linear.h"

using namespace nwq;

namespace {

struct GpuConvLayer {
  const char* name;
  int64_t c, o, hw, k, stride;
};

template <class F>
double gpu_ms(F&& f, int reps) {
  for (int i = 0; i < 2; ++i) f();
  cuda_backend().synchronize();
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) f();
  cuda_backend().synchronize();
  return 1000.0 * std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() /
         reps;
}

void run_layer(const GpuConvLayer& l, int64_t batch) {
  Device gpu = Device::cuda();
  Rng rng(1);
  int64_t pad = l.k / 2, out = (l.hw + 2 * pad - l.k) / l.stride + 1;
  Tensor x = Tensor::normal({batch, l.c, l.hw, l.hw}, rng).to(gpu);
  Tensor w = Tensor::normal({l.o, l.c, l.k, l.k}, rng, 0, 0.05).to(gpu);
  Conv2dParams p;
  p.stride_h = p.stride_w = static_cast<int>(l.stride);
  p.pad_h = p.pad_w = static_cast<int>(pad);
  double flop = 2.0 * batch * l.o * out * out * l.c * l.k * l.k;
  double fwd = gpu_ms([&] {
    NoGradGuard no_grad;
    conv2d(x, w, Tensor(), p);
  }, 10);
  Tensor xg = x.detach().set_requires_grad(true), wg = w.detach().set_requires_grad(true);
  Tensor gy = Tensor::normal({batch, l.o, out, out}, rng).to(gpu);
  double both = gpu_ms([&] { backward(conv2d(xg, wg, Tensor(), p), gy); }, 10);
  Tensor a = Tensor::normal({l.o, l.c * l.k * l.k}, rng).to(gpu);
  Tensor b = Tensor::normal({l.c * l.k * l.k, batch * out * out}, rng).to(gpu);
  double gemm = gpu_ms([&] { matmul(a, b); }, 10);
  std::printf("%-28s %8.2f %8.2f %8.2f %8.2f | %5.2f\n", l.name, flop / fwd / 1e9,
              2 * flop / (both - fwd) / 1e9, flop / gemm / 1e9, gemm, gemm / fwd);
}

}  // namespace

void run_gpu_conv_bench() {
  if (!cuda_available()) {
    std::printf("\ngpu conv bench: skipped (no CUDA device)\n");
    return;
  }
  const GpuConvLayer layers[] = {
      {"r18 conv1 3->64 7x7/2", 3, 64, 224, 7, 2},   {"r18 layer1 64 3x3 @56", 64, 64, 56, 3, 1},
      {"r18 layer2.0 64->128 /2", 64, 128, 56, 3, 2}, {"r18 layer2 128 3x3 @28", 128, 128, 28, 3, 1},
      {"r18 layer3 256 3x3 @14", 256, 256, 14, 3, 1}, {"r18 layer4 512 3x3 @7", 512, 512, 7, 3, 1},
      {"r18 ds 128->256 1x1/2", 128, 256, 28, 1, 2},
  };
  for (bool tf32 : {false, true}) {
    cuda_backend().set_tf32(tf32);
    std::printf("\nGPU conv2d, batch 64, TF32 %s: TFLOP/s (forward, backward dX+dW, same-size sgemm),"
                " sgemm ms | fwd/sgemm speed\n", tf32 ? "on" : "off");
    for (const GpuConvLayer& l : layers) run_layer(l, 64);
  }
  cuda_backend().set_tf32(false);
}
