// The integer engine's non-layer steps (deploy/int_code_steps.h) against the float ops they
// replace: ReLU + quantize against relu then the quantizer's formula, max pooling of codes
// against max_pool2d of the dequantized codes then the next quantizer, on odd shapes; the residual
// step against the steps one by one; the vectorized requantization against the scalar one.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "core/rng.h"
#include "deploy/int_code_steps.h"
#include "ops/activation.h"
#include "ops/elementwise.h"
#include "ops/pool.h"

using namespace nwq;

namespace {

// fake_quant's formula on every value of x.
std::vector<uint8_t> reference_codes(const Tensor& x, const IntCodesGrid& g) {
  std::vector<uint8_t> out(size_t(x.numel()));
  for (int64_t i = 0; i < x.numel(); ++i) {
    const float q = std::nearbyint(x.data<float>()[i] / g.scale) + float(g.zero_point);
    out[size_t(i)] = uint8_t(std::fmin(std::fmax(q, 0.f), float(g.qmax)));
  }
  return out;
}

}  // namespace

TEST_CASE("int code steps: ReLU + quantize equals relu then the quantizer") {
  Rng rng(5);
  const Tensor x = Tensor::normal({3, 5, 17, 13}, rng);  // past the parallel threshold
  for (bool relu_first : {false, true}) {
    const IntCodesGrid grid{0.037f, relu_first ? 0 : 9, relu_first ? 15 : 255};
    const auto got = quantize_floats(x, grid, relu_first);
    CHECK(got->shape == x.sizes());
    CHECK(got->data == reference_codes(relu_first ? relu(x) : x, grid));
  }
}

TEST_CASE("int code steps: max pooling of codes equals max_pool2d of the dequantized codes, requantized") {
  Rng rng(6);
  struct Case {
    int64_t n, c, h, w;
    int k, stride, pad;
  };
  for (const Case& t : {Case{2, 3, 9, 7, 3, 2, 1}, Case{1, 4, 5, 5, 2, 2, 0}, Case{2, 2, 6, 11, 3, 1, 1},
                        Case{1, 1, 1, 1, 1, 1, 0}}) {
    CAPTURE(t.h);
    CAPTURE(t.k);
    IntEngine::Codes x;
    x.shape = {t.n, t.c, t.h, t.w}, x.scale = 0.11f, x.zero_point = 3, x.qmax = 200;
    x.data.resize(size_t(shape_numel(x.shape)));
    for (auto& v : x.data) v = uint8_t(rng.next_u64() % 201);
    const IntCodesGrid in{x.scale, x.zero_point, x.qmax}, out{0.07f, 11, 255};
    Pool2dParams p;
    p.kernel_h = p.kernel_w = t.k, p.stride_h = p.stride_w = t.stride, p.pad_h = p.pad_w = t.pad;
    const auto got = max_pool_codes(x, p, regrid_table(in, out), out);
    const Tensor want = max_pool2d(dequantize_act(x), p);
    CHECK(got->shape == want.sizes());
    CHECK(got->data == reference_codes(want, out));
  }
}

TEST_CASE("int layer steps: conv + residual + ReLU + quantize equals the steps one by one") {
  Rng rng(7);
  const IntConvShape s{6, 5, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1};
  const int64_t out_ch = 19;
  std::vector<uint8_t> w(static_cast<size_t>(out_ch * s.k())), zw(static_cast<size_t>(out_ch));
  for (auto& v : w) v = uint8_t(rng.next_u64() % 16);
  for (auto& v : zw) v = uint8_t(rng.next_u64() % 16);
  IntEngine::Env env(5);
  auto x = std::make_shared<IntEngine::Codes>();
  x->shape = {2, 6, 5, 7}, x->scale = 0.05f, x->zero_point = 0, x->qmax = 15;
  x->data.resize(size_t(shape_numel(x->shape)));
  for (auto& v : x->data) v = uint8_t(rng.next_u64() % 16);
  env[0].codes = x;
  const Tensor other_f = Tensor::normal({2, out_ch, 5, 7}, rng);
  auto other_q = std::make_shared<IntEngine::Codes>(*x);
  other_q->shape = other_f.sizes(), other_q->scale = 0.2f, other_q->zero_point = 4;
  other_q->data.resize(size_t(other_f.numel()));
  for (auto& v : other_q->data) v = uint8_t(rng.next_u64() % 16);
  env[1].f = other_f, env[2].codes = other_q;
  IntLayerPlan plan{std::make_shared<const IntConvWeights>(
                        pack_int_conv(best_int_isa(), s, out_ch, w.data(), zw.data(), x->zero_point)),
                    true, std::vector<double>(size_t(out_ch)), std::vector<float>(size_t(out_ch))};
  for (int64_t o = 0; o < out_ch; ++o) plan.mult[size_t(o)] = 0.003 * double(o + 1), plan.bias[size_t(o)] = 0.1f * float(o % 5) - 0.2f;
  const IntCodesGrid grid{0.09f, 2, 15};
  float_step(plan, 0, 3)(env);
  for (int other : {1, 2}) {
    for (bool with_relu : {false, true}) {
      residual_step(plan, 0, other, with_relu, 4, grid)(env);
      const Tensor b = other == 1 ? other_f : dequantize_act(*other_q);
      const Tensor sum = add(env[3].f, b);
      CHECK(env[4].codes->data == reference_codes(with_relu ? relu(sum) : sum, grid));
    }
  }
}

TEST_CASE("int kernels: requantize_channels (AVX-512 and scalar) equals requantize_value") {
  Rng rng(9);
  const int rows = 29;  // three vectors of eight and a tail
  std::vector<ChannelRequant> req(size_t(rows + 3));
  for (size_t o = 0; o < req.size(); ++o)
    REQUIRE(make_requant(1e-4 * double(1 + (rng.next_u64() % 50000)), double(int(rng.next_u64() % 400)) - 200.0, &req[o]));
  const RequantArrays arrays = requant_arrays(req);
  std::vector<int32_t> acc(static_cast<size_t>(rows));
  for (auto& a : acc) a = int32_t(rng.next_u64() % 4000001) - 2000000;
  acc[0] = INT32_MIN + 1, acc[1] = INT32_MAX;
  const int64_t stride = 5;
  for (bool vector : {false, true}) {
    if (vector && !int_avx512dq_supported()) continue;
    std::vector<uint8_t> out(size_t(rows * stride), 0);
    requantize_channels(acc.data(), rows, arrays, 3, 6, 4, 250, out.data(), stride, vector);
    for (int r = 0; r < rows; ++r) CHECK(out[size_t(r * stride)] == requantize_value(acc[size_t(r)], req[size_t(r + 3)], 6, 4, 250));
  }
}
