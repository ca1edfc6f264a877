// CPU/CUDA parity of the conv2d (im2col + GEMM and depthwise), linear/matmul and pooling kernels:
// forward and every backward output on awkward shapes (batch 1, prime sizes, odd channel counts,
// groups, strides, dilation, asymmetric kernels and padding, ceil_mode, batches that need several
// scratch chunks), errors on device tensors, run-to-run determinism and the TF32 switch.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>

#include "autograd/engine.h"
#include "core/rng.h"
#include "ops/conv2d.h"
#include "ops/linear.h"
#include "ops/pool.h"
#include "tests/cuda_parity.h"
#include "tests/helpers.h"

using namespace nwq;

namespace {

using test::rand32;
using test::same_bytes;

// The shared harness with one relative tolerance for output and gradients, and an absolute one of
// atol_of_max times the CPU result's largest magnitude (GEMM sums cancel: elements near 0 carry
// the rounding of much larger partial sums). Both 0: identical bytes. All defined inputs require
// grad unless `grad` says otherwise.
void check_parity(const test::OpFn& f, const std::vector<Tensor>& inputs, double rtol,
                  double atol_of_max, std::vector<bool> grad = {}) {
  if (grad.empty()) grad.assign(inputs.size(), true);
  test::check_parity(f, inputs, grad, {rtol, 0, rtol, 0, atol_of_max});
}

struct ConvCase {
  int N, C, H, W, O, KH, KW;
  Conv2dParams p;
  bool bias;
};

std::string describe(const ConvCase& c) {
  return str("x [", c.N, ",", c.C, ",", c.H, ",", c.W, "] w [", c.O, ",", c.C / c.p.groups, ",",
             c.KH, ",", c.KW, "] stride ", c.p.stride_h, ",", c.p.stride_w, " pad ", c.p.pad_h,
             ",", c.p.pad_w, " dilation ", c.p.dilation_h, ",", c.p.dilation_w, " groups ",
             c.p.groups, c.bias ? " bias" : "");
}

Conv2dParams conv_params(int sh, int sw, int ph, int pw, int dh = 1, int dw = 1, int groups = 1) {
  Conv2dParams p;
  p.stride_h = sh, p.stride_w = sw, p.pad_h = ph, p.pad_w = pw;
  p.dilation_h = dh, p.dilation_w = dw, p.groups = groups;
  return p;
}

void check_conv_case(const ConvCase& c, uint64_t seed, double rtol, double atol_rel) {
  INFO(describe(c));
  Tensor x = rand32({c.N, c.C, c.H, c.W}, seed);
  Tensor w = rand32({c.O, c.C / c.p.groups, c.KH, c.KW}, seed + 1);
  Tensor b = c.bias ? rand32({c.O}, seed + 2) : Tensor();
  const Conv2dParams p = c.p;
  check_parity([p](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], v[2], p); },
               {x, w, b}, rtol, atol_rel);
}

Pool2dParams pool_params(int kh, int kw, int sh, int sw, int ph, int pw, bool ceil = false,
                         bool include_pad = true) {
  Pool2dParams p;
  p.kernel_h = kh, p.kernel_w = kw, p.stride_h = sh, p.stride_w = sw, p.pad_h = ph, p.pad_w = pw;
  p.ceil_mode = ceil, p.count_include_pad = include_pad;
  return p;
}

struct TF32Off {  // every test here starts and ends with exact FP32 GEMMs
  TF32Off() { cuda_backend().set_tf32(false); }
  ~TF32Off() { cuda_backend().set_tf32(false); }
};

}  // namespace

TEST_SUITE("cuda") {

PARITY_CASE("cuda conv/linear/pool: conv2d (im2col + GEMM) forward and all gradients match the CPU",
            "conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight",
            "conv2d_backward_bias") {
  TF32Off tf32_off;
  const std::vector<ConvCase> cases = {
      {1, 3, 7, 11, 5, 3, 3, conv_params(1, 1, 1, 1), true},
      {2, 5, 7, 11, 33, 3, 2, conv_params(2, 1, 1, 0), true},          // asymmetric
      {3, 33, 13, 11, 8, 3, 3, conv_params(1, 1, 2, 2, 2, 2), false},  // dilation 2
      {2, 4, 5, 6, 3, 5, 1, conv_params(1, 1, 2, 0), true},            // 5x1, padding 2,0
      {2, 6, 9, 7, 4, 3, 3, conv_params(2, 2, 1, 1, 1, 1, 2), true},   // groups 2
      {2, 12, 7, 5, 9, 2, 3, conv_params(1, 2, 0, 1, 2, 1, 3), false}, // groups 3, mixed
      {2, 8, 7, 11, 6, 1, 1, conv_params(1, 1, 0, 0), true},           // 1x1 (col is x)
      {1, 8, 7, 11, 6, 1, 1, conv_params(1, 1, 0, 0, 1, 1, 2), false}, // 1x1, one image, groups
      {3, 16, 9, 9, 32, 1, 1, conv_params(2, 2, 0, 0), false},         // 1x1 stride 2
      {1, 2, 3, 3, 2, 5, 5, conv_params(1, 1, 2, 2), true},            // kernel > input
      {2, 5, 6, 7, 4, 1, 1, conv_params(1, 1, 1, 0), true},            // 1x1 padded
      {3, 4, 8, 9, 6, 2, 2, conv_params(1, 1, 1, 1), false},           // even kernel, pad 1
      {1, 3, 37, 29, 16, 7, 7, conv_params(2, 2, 3, 3), false},        // ResNet stem shape
      {4, 64, 56, 56, 64, 3, 3, conv_params(1, 1, 1, 1), false},       // > 1M elements
      {2, 128, 14, 14, 256, 3, 3, conv_params(2, 2, 1, 1), false},
  };
  uint64_t seed = 10;
  for (const ConvCase& c : cases) check_conv_case(c, seed += 3, 1e-4, 1e-5);
}

TEST_CASE("cuda conv/linear/pool: conv2d batches that need several scratch chunks match the CPU") {
  TF32Off tf32_off;
  // 24.6M column floats per image: two images per 64M-float chunk (forward: 2 + 1; dW: 2 + 1,
  // the last chunk a single image).
  check_conv_case({3, 40, 112, 112, 8, 7, 7, conv_params(1, 1, 3, 3), true}, 41, 1e-4, 1e-5);
  // Small outputs (tap-major columns) with 33M column floats per image: chunks of 2 + 1.
  check_conv_case({3, 16384, 15, 15, 8, 3, 3, conv_params(1, 1, 1, 1), true}, 42, 1e-4, 1e-5);
  // 1x1 with several images per chunk (the tap-major columns are a permuted copy of x).
  check_conv_case({7, 3, 300, 300, 2, 1, 1, conv_params(1, 1, 0, 0), true}, 43, 1e-4, 1e-5);
}

PARITY_CASE("cuda conv/linear/pool: depthwise and channel-multiplier convs match the CPU",
            "depthwise_conv2d_forward", "depthwise_conv2d_backward_input",
            "depthwise_conv2d_backward_weight") {
  const std::vector<ConvCase> cases = {
      {2, 5, 7, 11, 5, 3, 3, conv_params(1, 1, 1, 1, 1, 1, 5), true},
      {1, 33, 13, 11, 33, 3, 3, conv_params(2, 2, 1, 1, 1, 1, 33), false},
      {2, 4, 9, 7, 8, 3, 3, conv_params(1, 1, 1, 1, 1, 1, 4), true},       // multiplier 2
      {2, 6, 11, 7, 6, 5, 3, conv_params(2, 1, 2, 1, 2, 1, 6), true},      // asym, dilation
      {3, 1, 7, 11, 4, 3, 3, conv_params(1, 1, 0, 1), false},              // one input channel
      {1, 3, 2, 2, 3, 3, 3, conv_params(1, 1, 1, 1, 1, 1, 3), true},       // kernel > input
      {16, 32, 56, 56, 32, 3, 3, conv_params(1, 1, 1, 1, 1, 1, 32), false},  // 1.6M elements
      {4, 96, 28, 28, 96, 3, 3, conv_params(2, 2, 1, 1, 1, 1, 96), true},
  };
  uint64_t seed = 100;
  for (const ConvCase& c : cases) check_conv_case(c, seed += 3, 1e-4, 1e-5);
}

PARITY_CASE("cuda conv/linear/pool: matmul and linear forward and gradients match the CPU",
            "gemm", "bias_rows", "sum_rows") {
  TF32Off tf32_off;
  const std::vector<std::pair<Shape, Shape>> mm = {
      {{1, 1}, {1, 1}}, {{7, 11}, {11, 13}}, {{1, 33}, {33, 1}}, {{129, 257}, {257, 65}}};
  uint64_t seed = 200;
  for (const auto& [sa, sb] : mm) {
    INFO("matmul ", shape_str(sa), " x ", shape_str(sb));
    check_parity([](const std::vector<Tensor>& v) { return matmul(v[0], v[1]); },
                 {rand32(sa, seed++), rand32(sb, seed++)}, 1e-4, 1e-5);
  }
  struct LinearCase {
    int64_t n, in, out;
    bool bias;
  };
  for (const LinearCase& c : std::vector<LinearCase>{{1, 1, 1, true},
                                                      {1, 33, 5, false},
                                                      {7, 11, 13, true},
                                                      {64, 512, 1000, true},
                                                      {1031, 1100, 37, true}}) {  // x > 1M
    INFO("linear n ", c.n, " in ", c.in, " out ", c.out, c.bias ? " bias" : "");
    Tensor b = c.bias ? rand32({c.out}, seed++) : Tensor();
    check_parity([](const std::vector<Tensor>& v) { return linear(v[0], v[1], v[2]); },
                 {rand32({c.n, c.in}, seed++), rand32({c.out, c.in}, seed++), b}, 1e-4, 1e-5);
  }
  // Only some inputs requiring grad.
  check_parity([](const std::vector<Tensor>& v) { return linear(v[0], v[1], v[2]); },
               {rand32({5, 7}, 1), rand32({3, 7}, 2), rand32({3}, 3)}, 1e-4, 1e-5,
               {false, true, false});
}

PARITY_CASE("cuda conv/linear/pool: max_pool2d forward, argmax and gradient match the CPU",
            "max_pool2d_forward", "max_pool2d_backward") {
  struct PoolCase {
    Shape x;
    Pool2dParams p;
  };
  const std::vector<PoolCase> cases = {
      {{2, 5, 7, 11}, pool_params(3, 3, 2, 2, 1, 1)},
      {{1, 3, 8, 10}, pool_params(3, 3, 2, 2, 0, 0, true)},   // ceil_mode
      {{1, 3, 7, 11}, pool_params(3, 2, 2, 2, 1, 1, true)},   // ceil_mode + padding
      {{2, 3, 9, 7}, pool_params(3, 2, 1, 2, 1, 0)},          // asymmetric
      {{1, 1, 1, 1}, pool_params(1, 1, 1, 1, 0, 0)},
      {{2, 64, 112, 112}, pool_params(3, 3, 2, 2, 1, 1)},     // ResNet stem, 1.6M
  };
  uint64_t seed = 300;
  for (const PoolCase& c : cases) {
    INFO("max_pool2d x ", shape_str(c.x), " k ", c.p.kernel_h, "x", c.p.kernel_w, " s ",
         c.p.stride_h, "x", c.p.stride_w, " p ", c.p.pad_h, "x", c.p.pad_w,
         c.p.ceil_mode ? " ceil" : "");
    const Pool2dParams p = c.p;
    auto f = [p](const std::vector<Tensor>& v) { return max_pool2d(v[0], p); };
    check_parity(f, {rand32(c.x, seed++)}, 0, 0);
    // Ties (values from {0, 1, 2}) and overlapping windows: first maximum wins, and a cell that
    // is the argmax of several windows collects all their gradients.
    Tensor ties = rand32(c.x, seed++, 0, 3);
    float* t = ties.data<float>();
    for (int64_t i = 0; i < ties.numel(); ++i) t[i] = std::floor(t[i]);
    check_parity(f, {ties}, 0, 0);
  }
  // Overlapping windows with stride 1, and a NaN that must win its windows.
  Tensor x = rand32({1, 2, 6, 7}, 310);
  x.data<float>()[17] = std::numeric_limits<float>::quiet_NaN();
  Pool2dParams p = pool_params(3, 3, 1, 1, 1, 1);
  Tensor xc = x.clone(), xg = x.to(Device::cuda());
  xc.set_requires_grad(true);
  xg.set_requires_grad(true);
  Tensor yc = max_pool2d(xc, p), yg = max_pool2d(xg, p);
  CHECK(same_bytes(yg, yc));
  Tensor gy = rand32(yc.sizes(), 311);
  backward(yc, gy);
  backward(yg, gy.to(Device::cuda()));
  CHECK(same_bytes(xg.grad(), xc.grad()));
}

PARITY_CASE("cuda conv/linear/pool: avg, adaptive and global average pooling match the CPU",
            "avg_pool2d_forward", "avg_pool2d_backward", "adaptive_avg_pool2d_forward",
            "adaptive_avg_pool2d_backward", "global_avg_pool2d_forward",
            "global_avg_pool2d_backward") {
  struct PoolCase {
    Shape x;
    Pool2dParams p;
  };
  const std::vector<PoolCase> avg_cases = {
      {{2, 5, 7, 11}, pool_params(3, 3, 2, 2, 1, 1)},
      {{2, 5, 7, 11}, pool_params(3, 3, 2, 2, 1, 1, false, false)},  // count_include_pad off
      {{1, 3, 7, 11}, pool_params(3, 3, 2, 2, 1, 1, true, true)},    // ceil_mode
      {{1, 3, 8, 10}, pool_params(3, 2, 2, 3, 1, 1, true, false)},   // ceil, no pad count
      {{3, 2, 9, 7}, pool_params(2, 3, 1, 2, 0, 1)},
      {{2, 33, 128, 128}, pool_params(2, 2, 2, 2, 0, 0)},            // 1.1M
  };
  uint64_t seed = 400;
  for (const PoolCase& c : avg_cases) {
    INFO("avg_pool2d x ", shape_str(c.x), " k ", c.p.kernel_h, "x", c.p.kernel_w, " s ",
         c.p.stride_h, "x", c.p.stride_w, " p ", c.p.pad_h, "x", c.p.pad_w,
         c.p.ceil_mode ? " ceil" : "", c.p.count_include_pad ? "" : " exclude-pad");
    const Pool2dParams p = c.p;
    check_parity([p](const std::vector<Tensor>& v) { return avg_pool2d(v[0], p); },
                 {rand32(c.x, seed++)}, 1e-5, 1e-6);
  }
  struct AdaptiveCase {
    Shape x;
    int oh, ow;
  };
  for (const AdaptiveCase& c : std::vector<AdaptiveCase>{{{2, 5, 7, 11}, 3, 5},
                                                         {{1, 3, 5, 5}, 7, 7},    // out > in
                                                         {{2, 4, 13, 7}, 4, 3},
                                                         {{1, 2, 6, 9}, 6, 9},    // identity
                                                         {{1, 3, 7, 11}, 1, 4},
                                                         {{2, 33, 7, 11}, 1, 1},  // global
                                                         {{2, 512, 7, 7}, 1, 1},
                                                         {{64, 33, 23, 29}, 1, 1},  // 1.4M
                                                         {{8, 64, 56, 56}, 7, 7}}) {
    INFO("adaptive_avg_pool2d x ", shape_str(c.x), " -> ", c.oh, "x", c.ow);
    const int oh = c.oh, ow = c.ow;
    check_parity(
        [oh, ow](const std::vector<Tensor>& v) { return adaptive_avg_pool2d(v[0], oh, ow); },
        {rand32(c.x, seed++)}, 1e-5, 1e-6);
  }
  check_parity([](const std::vector<Tensor>& v) { return global_avg_pool2d(v[0]); },
               {rand32({3, 7, 5, 3}, seed++)}, 1e-5, 1e-6);
}

TEST_CASE("cuda conv/linear/pool: conv, linear and pooling errors on device tensors") {
  const Device gpu = Device::cuda();
  Tensor x = rand32({2, 4, 7, 7}, 1).to(gpu);
  CHECK_THROWS_AS(conv2d(x, rand32({3, 5, 3, 3}, 2).to(gpu), Tensor()), Error);  // channels
  CHECK_THROWS_AS(conv2d(x, rand32({3, 4, 3, 3}, 2), Tensor()), Error);          // w on CPU
  CHECK_THROWS_AS(conv2d(x, rand32({3, 4, 9, 9}, 2).to(gpu), Tensor()), Error);  // too large
  CHECK_THROWS_AS(conv2d(x, rand32({3, 4, 3, 3}, 2).to(gpu), rand32({4}, 3).to(gpu)), Error);
  CHECK_THROWS_AS(linear(rand32({2, 3}, 1).to(gpu), rand32({4, 5}, 2).to(gpu), Tensor()), Error);
  CHECK_THROWS_AS(matmul(rand32({2, 3}, 1).to(gpu), rand32({3, 4}, 2)), Error);
  CHECK_THROWS_AS(max_pool2d(x, pool_params(3, 3, 1, 1, 2, 2)), Error);  // padding > kernel / 2
  CHECK_THROWS_AS(avg_pool2d(x, pool_params(9, 9, 1, 1, 0, 0)), Error);
  CHECK_THROWS_AS(adaptive_avg_pool2d(x, 0, 3), Error);
  // The device is still usable afterwards.
  Tensor y = conv2d(x, rand32({3, 4, 3, 3}, 2).to(gpu), Tensor());
  CHECK(y.sizes() == Shape{2, 3, 5, 5});
}

TEST_CASE("cuda conv/linear/pool: conv and linear gradients are bitwise reproducible") {
  TF32Off tf32_off;
  auto grads = [](const Conv2dParams& p, int64_t C, int64_t O, int64_t cg) {
    Tensor x = rand32({8, C, 29, 31}, 5).to(Device::cuda());
    Tensor w = rand32({O, cg, 3, 3}, 6).to(Device::cuda());
    Tensor b = rand32({O}, 7).to(Device::cuda());
    x.set_requires_grad(true), w.set_requires_grad(true), b.set_requires_grad(true);
    Tensor y = conv2d(x, w, b, p);
    backward(y, rand32(y.sizes(), 8).to(Device::cuda()));
    return std::vector<Tensor>{y, x.grad(), w.grad(), b.grad()};
  };
  for (int groups : {1, 24}) {  // im2col + GEMM, and depthwise
    INFO("groups ", groups);
    const Conv2dParams p = conv_params(2, 1, 1, 1, 1, 1, groups);
    std::vector<Tensor> a = grads(p, 24, 24, 24 / groups), b = grads(p, 24, 24, 24 / groups);
    for (size_t i = 0; i < a.size(); ++i) CHECK(same_bytes(a[i], b[i]));
  }
  auto linear_grads = [] {
    Tensor x = rand32({300, 5}, 1).to(Device::cuda()), w = rand32({17, 5}, 2).to(Device::cuda());
    Tensor b = rand32({17}, 3).to(Device::cuda());
    x.set_requires_grad(true), w.set_requires_grad(true), b.set_requires_grad(true);
    backward(linear(x, w, b), rand32({300, 17}, 4).to(Device::cuda()));
    return std::vector<Tensor>{x.grad(), w.grad(), b.grad()};
  };
  std::vector<Tensor> a = linear_grads(), b = linear_grads();
  for (size_t i = 0; i < a.size(); ++i) CHECK(same_bytes(a[i], b[i]));
}

TEST_CASE("cuda conv/linear/pool: TF32 GEMMs stay close to FP32 and the switch turns back off") {
  TF32Off tf32_off;
  cuda_backend().set_tf32(true);
  // TF32 keeps 10 mantissa bits: about 1e-3 relative per product.
  check_conv_case({2, 32, 17, 13, 48, 3, 3, conv_params(1, 1, 1, 1), true}, 500, 5e-3, 5e-3);
  // dW from per-image partial products (taken with TF32 on), with groups and a stride.
  check_conv_case({3, 8, 20, 20, 6, 3, 3, conv_params(2, 1, 1, 1, 1, 1, 2), true}, 504, 5e-3, 5e-3);
  check_parity([](const std::vector<Tensor>& v) { return linear(v[0], v[1], v[2]); },
               {rand32({33, 257}, 501), rand32({19, 257}, 502), rand32({19}, 503)}, 5e-3, 5e-3);
  cuda_backend().set_tf32(false);
  check_conv_case({2, 32, 17, 13, 48, 3, 3, conv_params(1, 1, 1, 1), true}, 500, 1e-4, 1e-5);
}

}  // TEST_SUITE("cuda")
