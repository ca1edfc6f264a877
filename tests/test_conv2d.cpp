// conv2d: forward against a naive loop, F64 gradient checks of x, w and b over groups, stride,
// padding, dilation, depthwise and asymmetric kernels, PyTorch goldens, needs-mask and errors.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "core/tensor_io.h"
#include "ops/conv2d.h"
#include "tests/helpers.h"

using namespace nwq;

namespace {

struct ConvCase {
  const char* name;
  Shape x, w;  // x [N, C, H, W], w [O, C/groups, KH, KW]
  Conv2dParams p;
  bool bias;
};

Conv2dParams params(int sh, int sw, int ph, int pw, int dh = 1, int dw = 1, int groups = 1) {
  Conv2dParams p;
  p.stride_h = sh, p.stride_w = sw, p.pad_h = ph, p.pad_w = pw;
  p.dilation_h = dh, p.dilation_w = dw, p.groups = groups;
  return p;
}

const std::vector<ConvCase>& cases() {
  static const std::vector<ConvCase> list = {
      {"3x3 pad 1", {2, 3, 5, 5}, {4, 3, 3, 3}, params(1, 1, 1, 1), true},
      {"stride 2, odd size", {2, 2, 7, 5}, {3, 2, 3, 3}, params(2, 2, 1, 1), false},
      {"dilation 2", {1, 2, 7, 6}, {2, 2, 3, 3}, params(1, 1, 2, 1, 2, 2), true},
      {"groups 2", {2, 4, 5, 4}, {6, 2, 3, 3}, params(1, 1, 1, 1, 1, 1, 2), true},
      {"depthwise stride 2", {2, 3, 7, 7}, {3, 1, 3, 3}, params(2, 2, 1, 1, 1, 1, 3), true},
      {"channel multiplier 2", {1, 2, 5, 6}, {4, 1, 3, 3}, params(1, 2, 1, 0, 1, 1, 2), true},
      {"one input channel", {2, 1, 6, 5}, {3, 1, 3, 2}, params(1, 1, 1, 0), true},
      {"asymmetric 3x2, stride 2,1", {1, 3, 7, 6}, {2, 3, 3, 2}, params(2, 1, 1, 0), true},
      {"1x1 pointwise", {2, 5, 3, 4}, {3, 5, 1, 1}, params(1, 1, 0, 0), true},
      {"1x1 stride 2", {2, 4, 5, 5}, {3, 4, 1, 1}, params(2, 2, 0, 0), false},
      {"1x1 grouped", {3, 4, 3, 3}, {4, 2, 1, 1}, params(1, 1, 0, 0, 1, 1, 2), true},
      {"5x5 no padding, batch 1", {1, 2, 6, 7}, {2, 2, 5, 5}, params(1, 1, 0, 0), true},
      {"kernel equals padded input", {1, 2, 3, 2}, {2, 2, 5, 4}, params(1, 1, 1, 1), true},
      {"large stride, asymmetric padding", {2, 2, 8, 9}, {2, 2, 2, 3}, params(3, 4, 1, 2), true},
      {"stride 2 with dilation 2", {1, 2, 9, 8}, {2, 2, 3, 3}, params(2, 2, 1, 2, 2, 2), false},
      {"depthwise dilation 2", {1, 3, 7, 6}, {3, 1, 3, 3}, params(1, 1, 2, 1, 2, 2, 3), true},
  };
  return list;
}

// Direct six-loop convolution in double, the readable definition.
Tensor naive_conv(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p) {
  const int N = int(x.size(0)), C = int(x.size(1)), H = int(x.size(2)), W = int(x.size(3));
  const int O = int(w.size(0)), Cg = int(w.size(1)), KH = int(w.size(2)), KW = int(w.size(3));
  const int OH = (H + 2 * p.pad_h - p.dilation_h * (KH - 1) - 1) / p.stride_h + 1;
  const int OW = (W + 2 * p.pad_w - p.dilation_w * (KW - 1) - 1) / p.stride_w + 1;
  const int Og = O / p.groups;
  std::vector<double> xv = x.to(DType::F64).to_vector<double>();
  std::vector<double> wv = w.to(DType::F64).to_vector<double>();
  std::vector<double> bv = b.defined() ? b.to(DType::F64).to_vector<double>() : std::vector<double>(O, 0.0);
  std::vector<double> y(size_t(N) * O * OH * OW);
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < O; ++o)
      for (int oh = 0; oh < OH; ++oh)
        for (int ow = 0; ow < OW; ++ow) {
          double sum = bv[o];
          for (int cg = 0; cg < Cg; ++cg) {
            const int c = (o / Og) * Cg + cg;
            for (int kh = 0; kh < KH; ++kh)
              for (int kw = 0; kw < KW; ++kw) {
                const int ih = oh * p.stride_h - p.pad_h + kh * p.dilation_h;
                const int iw = ow * p.stride_w - p.pad_w + kw * p.dilation_w;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                sum += xv[((size_t(n) * C + c) * H + ih) * W + iw] *
                       wv[((size_t(o) * Cg + cg) * KH + kh) * KW + kw];
              }
          }
          y[((size_t(n) * O + o) * OH + oh) * OW + ow] = sum;
        }
  (void)C;
  return Tensor::from_vector(y, {N, O, OH, OW});
}

// The adjoint loops of naive_conv: gx and gw for upstream gradient gy.
std::vector<Tensor> naive_conv_backward(const Tensor& x, const Tensor& w, const Tensor& gy,
                                        const Conv2dParams& p) {
  const int N = int(x.size(0)), C = int(x.size(1)), H = int(x.size(2)), W = int(x.size(3));
  const int O = int(w.size(0)), Cg = int(w.size(1)), KH = int(w.size(2)), KW = int(w.size(3));
  const int OH = int(gy.size(2)), OW = int(gy.size(3)), Og = O / p.groups;
  std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>();
  std::vector<double> gyv = gy.to_vector<double>(), gx(xv.size(), 0.0), gw(wv.size(), 0.0);
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < O; ++o)
      for (int oh = 0; oh < OH; ++oh)
        for (int ow = 0; ow < OW; ++ow)
          for (int cg = 0; cg < Cg; ++cg)
            for (int kh = 0; kh < KH; ++kh)
              for (int kw = 0; kw < KW; ++kw) {
                const int ih = oh * p.stride_h - p.pad_h + kh * p.dilation_h;
                const int iw = ow * p.stride_w - p.pad_w + kw * p.dilation_w;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const size_t xi = ((size_t(n) * C + (o / Og) * Cg + cg) * H + ih) * W + iw;
                const size_t wi = ((size_t(o) * Cg + cg) * KH + kh) * KW + kw;
                const double g = gyv[((size_t(n) * O + o) * OH + oh) * OW + ow];
                gx[xi] += wv[wi] * g;
                gw[wi] += xv[xi] * g;
              }
  return {Tensor::from_vector(gx, x.sizes()), Tensor::from_vector(gw, w.sizes())};
}

}  // namespace

TEST_CASE("conv2d: forward matches a naive loop in f64 and f32") {
  uint64_t seed = 1;
  for (const ConvCase& c : cases()) {
    CAPTURE(c.name);
    Tensor x = test::random(c.x, seed++, -1, 1, false);
    Tensor w = test::random(c.w, seed++, -1, 1, false);
    Tensor b = c.bias ? test::random({c.w[0]}, seed++, -1, 1, false) : Tensor();
    Tensor expected = naive_conv(x, w, b, c.p);
    CHECK_CLOSE(conv2d(x, w, b, c.p), expected, 1e-12, 1e-12);
    Tensor y32 = conv2d(x.to(DType::F32), w.to(DType::F32), b.defined() ? b.to(DType::F32) : b, c.p);
    CHECK(y32.dtype() == DType::F32);
    CHECK_CLOSE(y32, expected, 1e-5, 1e-5);
  }
}

TEST_CASE("conv2d: gradient check of x, w and b") {
  uint64_t seed = 100;
  for (const ConvCase& c : cases()) {
    CAPTURE(c.name);
    std::vector<Tensor> in = {test::random(c.x, seed++), test::random(c.w, seed++),
                              c.bias ? test::random({c.w[0]}, seed++) : Tensor()};
    const Conv2dParams p = c.p;
    test::gradcheck([p](const std::vector<Tensor>& t) { return conv2d(t[0], t[1], t[2], p); }, in);
  }
}

TEST_CASE("conv2d: one large image (GEMMs split over threads) matches the naive loop") {
  Tensor x = test::random({1, 32, 12, 11}, 51);
  Tensor w = test::random({64, 32, 3, 3}, 52);
  Tensor b = test::random({64}, 53);
  Tensor y = conv2d(x, w, b, params(1, 1, 1, 1));
  CHECK_CLOSE(y, naive_conv(x, w, b, params(1, 1, 1, 1)), 1e-12, 1e-12);
  // Backward against the batched path: the same image twice gives twice the weight gradient.
  Tensor gy = test::random(y.sizes(), 54, -1, 1, false);
  backward(y, gy);
  Tensor x2 = Tensor::zeros({2, 32, 12, 11}, DType::F64);
  x2.slice(0, 0, 1).copy_(x.detach());
  x2.slice(0, 1, 2).copy_(x.detach());
  Tensor w2 = w.detach().clone().set_requires_grad(true);
  Tensor gy2 = Tensor::zeros({2, 64, 12, 11}, DType::F64);
  gy2.slice(0, 0, 1).copy_(gy);
  gy2.slice(0, 1, 2).copy_(gy);
  backward(conv2d(x2, w2, Tensor(), params(1, 1, 1, 1)), gy2);
  std::vector<double> twice = w.grad().to_vector<double>();
  for (double& v : twice) v *= 2;
  CHECK_CLOSE(w2.grad(), Tensor::from_vector(twice, w.sizes()), 1e-12, 1e-12);
}

TEST_CASE("conv2d: large planes (several im2col row tiles) match the naive loops") {
  struct Big {
    Shape x, w;
    Conv2dParams p;
  };
  const std::vector<Big> bigs = {{{1, 8, 60, 60}, {4, 8, 3, 3}, params(1, 1, 1, 1)},
                                 {{2, 16, 121, 90}, {3, 16, 3, 3}, params(2, 2, 1, 1)},
                                 {{1, 8, 70, 64}, {4, 4, 5, 5}, params(1, 1, 2, 2, 1, 1, 2)}};
  uint64_t seed = 60;
  for (const Big& c : bigs) {
    Tensor x = test::random(c.x, seed++), w = test::random(c.w, seed++);
    Tensor y = conv2d(x, w, Tensor(), c.p);
    CHECK_CLOSE(y, naive_conv(x, w, Tensor(), c.p), 1e-12, 1e-12);
    Tensor gy = test::random(y.sizes(), seed++, -1, 1, false);
    backward(y, gy);
    std::vector<Tensor> expected = naive_conv_backward(x.detach(), w.detach(), gy, c.p);
    CHECK_CLOSE(x.grad(), expected[0], 1e-12, 1e-12);
    CHECK_CLOSE(w.grad(), expected[1], 1e-10, 1e-10);
  }
}

TEST_CASE("conv2d: backward computes only the needed gradients") {
  Tensor x = test::random({2, 4, 5, 5}, 7);
  Tensor w = test::random({4, 4, 3, 3}, 8, -1, 1, false);  // frozen weights
  Tensor b = test::random({4}, 9, -1, 1, false);
  backward(conv2d(x, w, b, params(1, 1, 1, 1)), test::random({2, 4, 5, 5}, 10, -1, 1, false));
  CHECK(x.grad().defined());
  CHECK_FALSE(w.grad().defined());
  Tensor x2 = test::random({2, 4, 5, 5}, 11, -1, 1, false);  // input without gradient
  Tensor w2 = test::random({4, 2, 3, 3}, 12);
  backward(conv2d(x2, w2, Tensor(), params(1, 1, 1, 1, 1, 1, 2)),
           test::random({2, 4, 5, 5}, 13, -1, 1, false));
  CHECK(w2.grad().defined());
  NoGradGuard no_grad;
  CHECK_FALSE(conv2d(x, w2, b, params(1, 1, 1, 1, 1, 1, 2)).requires_grad());
}

TEST_CASE("conv2d: a non-contiguous input still receives its gradient") {
  Tensor base = test::random({2, 5, 5, 3}, 21, -1, 1, false);  // N, H, W, C
  Tensor w = test::random({2, 3, 3, 3}, 22, -1, 1, false);
  Tensor gy = test::random({2, 2, 5, 5}, 23, -1, 1, false);
  Tensor x = base.permute({0, 3, 1, 2}).set_requires_grad(true);  // N, C, H, W view (a leaf)
  REQUIRE_FALSE(x.is_contiguous());
  backward(conv2d(x, w, Tensor(), params(1, 1, 1, 1)), gy);
  REQUIRE(x.grad().defined());
  Tensor x_plain = x.detach().contiguous().set_requires_grad(true);
  backward(conv2d(x_plain, w, Tensor(), params(1, 1, 1, 1)), gy);
  CHECK(test::max_abs_diff(x.grad(), x_plain.grad()) == 0.0);
}

TEST_CASE("conv2d: many images (threaded path) match one image at a time, bit for bit") {
  Tensor x = test::random({6, 4, 6, 6}, 31, -1, 1, false).to(DType::F32).set_requires_grad(true);
  Tensor w = test::random({8, 4, 3, 3}, 32, -1, 1, false).to(DType::F32).set_requires_grad(true);
  Tensor gy = test::random({6, 8, 3, 3}, 33, -1, 1, false).to(DType::F32);
  Tensor y = conv2d(x, w, Tensor(), params(2, 2, 1, 1));
  backward(y, gy);
  Tensor gw_sum = Tensor::zeros(w.sizes());
  for (int n = 0; n < 6; ++n) {
    Tensor xn = x.detach().slice(0, n, n + 1).contiguous().set_requires_grad(true);
    Tensor wn = w.detach().clone().set_requires_grad(true);
    Tensor yn = conv2d(xn, wn, Tensor(), params(2, 2, 1, 1));
    CHECK(test::max_abs_diff(yn, y.detach().slice(0, n, n + 1)) == 0.0);
    backward(yn, gy.slice(0, n, n + 1).contiguous());
    CHECK(test::max_abs_diff(xn.grad(), x.grad().slice(0, n, n + 1)) == 0.0);
    gw_sum.add_(wn.grad());
  }
  CHECK_CLOSE(w.grad(), gw_sum, 1e-5, 1e-5);
}

TEST_CASE("conv2d: matches the PyTorch goldens (y, gx, gw, gb)") {
  const std::string path = test::golden_path("conv2d.safetensors");
  TensorFile golden = load_safetensors(path);
  // Parameters of each case, as in the file's __metadata__ "caseN" strings (see the README).
  const std::vector<Conv2dParams> ps = {
      params(1, 1, 1, 1), params(2, 2, 1, 1), params(1, 1, 0, 0), params(1, 1, 2, 2, 2, 2),
      params(1, 1, 1, 1, 1, 1, 2), params(2, 2, 1, 1, 1, 1, 5), params(2, 1, 1, 0),
      params(1, 1, 2, 2)};
  for (size_t i = 0; i < ps.size(); ++i) {
    const std::string k = "case" + std::to_string(i) + ".";
    CAPTURE(k);
    const Conv2dParams& p = ps[i];
    CHECK(golden.meta(k.substr(0, k.size() - 1)) ==
          str("stride=", p.stride_h, ",", p.stride_w, " padding=", p.pad_h, ",", p.pad_w,
              " dilation=", p.dilation_h, ",", p.dilation_w, " groups=", p.groups));
    Tensor x = golden.at(k + "x").clone().set_requires_grad(true);
    Tensor w = golden.at(k + "w").clone().set_requires_grad(true);
    const bool has_bias = golden.contains(k + "b");
    Tensor b = has_bias ? golden.at(k + "b").clone().set_requires_grad(true) : Tensor();
    Tensor y = conv2d(x, w, b, p);
    CHECK_CLOSE(y, golden.at(k + "y"), 1e-4, 1e-4);
    backward(y, golden.at(k + "gy"));
    CHECK_CLOSE(x.grad(), golden.at(k + "gx"), 1e-4, 1e-4);
    CHECK_CLOSE(w.grad(), golden.at(k + "gw"), 1e-4, 1e-4);
    if (has_bias) CHECK_CLOSE(b.grad(), golden.at(k + "gb"), 1e-4, 1e-4);
  }
}

TEST_CASE("conv2d: errors name the op and the shapes") {
  Tensor x = test::random({2, 4, 5, 5}, 41, -1, 1, false);
  Tensor w = test::random({6, 4, 3, 3}, 42, -1, 1, false);
  auto throws = [](auto f, const char* text) {
    CHECK_THROWS_WITH_AS(f(), doctest::Contains(text), Error);
    CHECK_THROWS_WITH_AS(f(), doctest::Contains("conv2d"), Error);
  };
  throws([&] { conv2d(x.view({2, 4, 25}), w, Tensor()); }, "x must be 4-D [N, C, H, W] (x [2, 4, 25]");
  throws([&] { conv2d(x, w.view({6, 36}), Tensor()); }, "w must be 4-D");
  throws([&] { conv2d(x, test::random({6, 3, 3, 3}, 43, -1, 1, false), Tensor()); },
         "channel mismatch: w expects 3 x 1 groups input channels, x has 4 (x [2, 4, 5, 5], w [6, 3, 3, 3]");
  throws([&] { conv2d(x, test::random({8, 4, 3, 3}, 44, -1, 1, false), Tensor(), params(1, 1, 1, 1, 1, 1, 4)); },
         "channel mismatch");
  throws([&] { conv2d(x, test::random({6, 1, 3, 3}, 45, -1, 1, false), Tensor(), params(1, 1, 1, 1, 1, 1, 3)); },
         "groups must divide");
  throws([&] { conv2d(x, test::random({6, 4, 7, 3}, 46, -1, 1, false), Tensor()); },
         "kernel 7x3 (dilated) is larger than the padded input 5x5: output size would be <= 0");
  throws([&] { conv2d(x, w, Tensor(), params(1, 1, 0, 0, 3, 3)); }, "output size would be <= 0");
  throws([&] { conv2d(x, w, Tensor(), params(0, 1, 0, 0)); }, "stride and dilation must be >= 1");
  throws([&] { conv2d(x, w, test::random({5}, 47, -1, 1, false)); }, "bias [5] must be [6]");
  throws([&] { conv2d(x.to(DType::F32), w, Tensor()); }, "inputs disagree: float32[2, 4, 5, 5] on cpu vs float64");
}
