// Benchmarks, run by the one bench/bench_main.cpp; each prints its table and ratios against a
// reference measured in the same run.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdlib>

// An integer from the environment (NWQ_BENCH_SIZE, ...), or fallback when unset.
inline int64_t env_int(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoll(v) : fallback;
}

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void run_conv_bench();
// ResNet-20 (Fashion-MNIST shape) training images/s, next to PyTorch CPU when installed.
void run_train_bench();
// ImageNet-shape ResNet-18 / MobileNetV2 inference and training step on the GPU vs PyTorch.
void run_model_bench();
// GPU conv2d TFLOP/s for ResNet-18 shapes next to a same-size cuBLAS sgemm.
void run_gpu_conv_bench();
// ms per NWQ iteration on ResNet-18 (synthetic data) next to the same iteration in PyTorch.
void run_nwq_bench();
// Calibration seconds (weights, activations) of ResNet-18/50 at 224 px with QDrop's observer.
void run_calib_bench();
// Expected minutes per NWQ / QDrop run of the six paper networks at 224 px (synthetic data).
void run_zoo_time_bench();
// ResNet-18 at 224 px, W8A8 / W4A4: images/s of FP32, fake-quant and the CPU integer engine.
void run_int_engine_bench();
