// Preparing models for quantization: BN folding, the quant-off wrapper is bit-identical to the FP
// model, quantizer placement and 8-bit switches, quantizer error bounds, the Lp search, and config.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <set>

#include "autograd/grad_mode.h"
#include "core/rng.h"
#include "models/layers.h"
#include "models/registry.h"
#include "ops/conv2d.h"
#include "ops/linear.h"
#include "quant/act_quantizer.h"
#include "quant/config.h"
#include "quant/quant_layer.h"
#include "quant/quant_model.h"
#include "quant/range_search.h"
#include "tests/helpers.h"
#include "tests/quant_test_util.h"

using namespace nwq;

namespace {

using test::fill_uniform;
using test::randomize_all_bn;
using test::randomize_bn;

int count_layers(Module& model) {
  int n = 0;
  for (auto& [path, m] : model.named_modules())
    n += dynamic_cast<Conv2d*>(m) != nullptr || dynamic_cast<Linear*>(m) != nullptr;
  return n;
}

std::vector<std::string> act_names(const QuantModel& qm) {
  std::vector<std::string> names;
  for (const auto& a : qm.acts()) names.push_back(a.name);
  return names;
}

bool has_act(const QuantModel& qm, const std::string& name) {
  for (const auto& a : qm.acts())
    if (a.name == name) return true;
  return false;
}

std::shared_ptr<QuantAct> quant_act(const QuantModel& qm, const std::string& path) {
  return std::dynamic_pointer_cast<QuantAct>(qm.model().find(path));
}

// w' = w g / sqrt(var + eps) and b' = (b - mean) g / sqrt(var + eps) + beta, in double.
void fold_reference(const Conv2d& conv, const BatchNorm2d& bn, Tensor& w, Tensor& b) {
  std::vector<double> wv = conv.weight.to(DType::F64).to_vector<double>();
  std::vector<double> bv(size_t(conv.out_channels()), 0.0);
  if (conv.bias.defined()) bv = conv.bias.to(DType::F64).to_vector<double>();
  std::vector<double> g = bn.weight.to(DType::F64).to_vector<double>(),
                      beta = bn.bias.to(DType::F64).to_vector<double>(),
                      mean = bn.running_mean.to(DType::F64).to_vector<double>(),
                      var = bn.running_var.to(DType::F64).to_vector<double>();
  const size_t out = bv.size(), inner = wv.size() / out;
  for (size_t c = 0; c < out; ++c) {
    const double k = g[c] / std::sqrt(var[c] + bn.eps());
    for (size_t i = 0; i < inner; ++i) wv[c * inner + i] *= k;
    bv[c] = (bv[c] - mean[c]) * k + beta[c];
  }
  w = Tensor::from_vector(wv, conv.weight.sizes()).to(DType::F32);
  b = Tensor::from_vector(bv, {int64_t(out)}).to(DType::F32);
}

}  // namespace

TEST_CASE("quant prepare: BN folding equals conv followed by eval-mode BN") {
  struct Case {
    int in, out, groups;
    bool bias;
  };
  uint64_t seed = 1;
  for (Case c : {Case{3, 5, 1, false}, Case{4, 6, 1, true}, Case{6, 6, 6, false}}) {
    CAPTURE(c.groups);
    CAPTURE(c.bias);
    Rng rng(seed++);
    auto conv = std::make_shared<Conv2d>(
        c.in, c.out, Conv2dOptions(3).stride(2).padding(1).groups(c.groups).bias(c.bias));
    fill_uniform(conv->weight, rng, -0.5f, 0.5f);
    if (c.bias) fill_uniform(conv->bias, rng, -0.2f, 0.2f);
    auto bn = std::make_shared<BatchNorm2d>(c.out);
    randomize_bn(*bn, rng);
    QuantLayer ql(conv, bn);
    ql.eval();
    CHECK_FALSE(bn->is_training());
    CHECK(ql.mode() == QuantLayer::Mode::Float);

    Tensor w_ref, b_ref;
    fold_reference(*conv, *bn, w_ref, b_ref);
    CHECK_CLOSE(ql.weight, w_ref, 1e-7, 0);
    CHECK_CLOSE(ql.bias, b_ref, 1e-7, 1e-9);

    NoGradGuard no_grad;
    Tensor x = test::rand32({2, c.in, 7, 7}, seed + 100);
    Tensor ref = bn->forward(conv->forward(x));
    Tensor folded = conv2d(x, ql.weight, ql.bias, conv->params());
    CHECK(test::closeness(folded, ref, 1e-5, 1e-5 * test::max_abs(ref)) <= 1.0);
    // Float mode runs the original modules: bit for bit.
    CHECK(test::same_bytes(ql.forward(x), ref));
  }
}

TEST_CASE("quant prepare: a Linear without BN keeps its weights; bad inputs are refused") {
  Rng rng(9);
  auto lin = std::make_shared<Linear>(7, 3);
  fill_uniform(lin->weight, rng, -1, 1);
  fill_uniform(lin->bias, rng, -1, 1);
  QuantLayer ql(lin, nullptr);
  CHECK_FALSE(ql.is_conv());
  CHECK(test::same_bytes(ql.weight, lin->weight));
  CHECK(test::same_bytes(ql.bias, lin->bias));
  NoGradGuard no_grad;
  Tensor x = test::rand32({4, 7}, 2);
  CHECK(test::same_bytes(ql.forward(x), lin->forward(x)));
  CHECK(test::same_bytes(linear(x, ql.weight, ql.bias), lin->forward(x)));

  CHECK_THROWS_WITH_AS(QuantLayer(std::make_shared<ReLU>(), nullptr),
                       doctest::Contains("expects a Conv2d or Linear"), Error);
  CHECK_THROWS_WITH_AS(
      QuantLayer(std::make_shared<Conv2d>(2, 4, 3), std::make_shared<BatchNorm2d>(5)),
      doctest::Contains("cannot fold"), Error);
  CHECK_THROWS_WITH_AS(ql.set_mode(QuantLayer::Mode::Nearest), doctest::Contains("init_grid"),
                       Error);
}

TEST_CASE("quant prepare: the prepared model with quantization off is bit-identical to FP") {
  struct Case {
    const char* name;
    int channels;
    int64_t size;
  };
  for (Case c : {Case{"resnet20", 1, 8}, Case{"mobilenetv2_cifar", 3, 8}}) {
    CAPTURE(c.name);
    ModelPtr model = create_model(c.name, 10, c.channels, 7);
    randomize_all_bn(*model, 11);
    model->eval();
    Tensor x = test::rand32({2, c.channels, c.size, c.size}, 5);
    Tensor ref;
    {
      NoGradGuard no_grad;
      ref = model->forward(x);
    }
    QuantModel qm(model, x.slice(0, 0, 1), QuantConfig{});
    for (const auto& e : qm.layers()) CHECK(e.layer->mode() == QuantLayer::Mode::Float);
    for (const auto& a : qm.acts()) CHECK(a.quantizer->state == ActQuantizer::State::Off);
    NoGradGuard no_grad;
    CHECK(test::same_bytes(qm.forward(x), ref));
    CHECK(test::same_bytes(qm.forward(x.slice(0, 1, 2).contiguous()),
                           ref.slice(0, 1, 2).contiguous()));
  }
}

TEST_CASE("quant prepare: resnet20 placement, folded BNs and 8-bit switches") {
  ModelPtr model = create_model("resnet20", 10, 1, 0);
  const int n_layers = count_layers(*model);
  CHECK(n_layers == 20);  // 19 convs (option-A shortcuts have none) + the linear head
  Tensor sample = test::rand32({1, 1, 8, 8}, 1);
  QuantConfig config;
  config.wbits = 3, config.abits = 2;
  QuantModel qm(model, sample, config);

  REQUIRE(qm.layers().size() == size_t(n_layers));
  CHECK(qm.num_blocks() == 11);
  CHECK(qm.layers().front().name == "conv1");
  CHECK(qm.layers().front().bn == "bn1");
  CHECK(qm.layers().front().block == 0);
  CHECK(qm.layers()[1].name == "layer1.0.conv1");
  CHECK(qm.layers()[1].bn == "layer1.0.bn1");
  CHECK(qm.layers()[2].name == "layer1.0.conv2");
  CHECK(qm.layers()[2].bn == "layer1.0.bn2");
  CHECK(qm.layers().back().name == "linear");
  CHECK(qm.layers().back().bn == "");
  CHECK(qm.layers().back().block == 10);
  for (const auto& e : qm.layers()) {
    CAPTURE(e.name);
    CHECK(qm.model().find(e.name)->type_name() == "QuantLayer");
    if (!e.bn.empty()) CHECK(qm.model().find(e.bn)->type_name() == "Identity");
  }

  std::vector<std::string> expected = {"stem:out"};
  for (int stage = 1; stage <= 3; ++stage)
    for (int i = 0; i < 3; ++i) {
      const std::string block = str("layer", stage, ".", i);
      expected.push_back(block + ".relu1#0");
      expected.push_back(block + ":out");
    }
  CHECK(act_names(qm) == expected);
  CHECK(qm.acts()[0].block == 0);
  CHECK(qm.acts()[1].block == 1);
  CHECK(qm.acts()[2].block == 1);
  // relu2 is the block output and the stem relu the stem output: wrapped, but not quantized.
  auto relu2 = quant_act(qm, "layer2.1.relu2");
  REQUIRE(relu2);
  CHECK(relu2->uses() == 1);
  CHECK(relu2->quantizer(0) == nullptr);
  auto stem_relu = quant_act(qm, "relu");
  REQUIRE(stem_relu);
  CHECK(stem_relu->quantizer(0) == nullptr);
  auto relu1 = quant_act(qm, "layer1.0.relu1");
  REQUIRE(relu1);
  CHECK(relu1->quantizer(0) == qm.acts()[1].quantizer);

  // Default switches: first and last layer weights and the last layer's input at 8 bits.
  CHECK(qm.layers().front().layer->bits() == 8);
  CHECK(qm.layers().back().layer->bits() == 8);
  for (size_t i = 1; i + 1 < qm.layers().size(); ++i) CHECK(qm.layers()[i].layer->bits() == 3);
  CHECK(qm.acts().back().name == "layer3.2:out");
  CHECK(qm.acts().back().quantizer->bits() == 8);
  for (size_t i = 0; i + 1 < qm.acts().size(); ++i) CHECK(qm.acts()[i].quantizer->bits() == 2);

  QuantConfig off = config;
  off.first_layer_8bit = off.last_layer_8bit = off.last_act_8bit = false;
  QuantModel qm_off(create_model("resnet20", 10, 1, 0), sample, off);
  for (const auto& e : qm_off.layers()) CHECK(e.layer->bits() == 3);
  for (const auto& a : qm_off.acts()) CHECK(a.quantizer->bits() == 2);
  QuantConfig first_only = off;
  first_only.first_layer_8bit = true;
  QuantModel qm_first(create_model("resnet20", 10, 1, 0), sample, first_only);
  CHECK(qm_first.layers().front().layer->bits() == 8);
  CHECK(qm_first.layers().back().layer->bits() == 3);
  CHECK(qm_first.acts().back().quantizer->bits() == 2);
}

TEST_CASE("quant prepare: torchvision resnet18 shares one relu per block across two uses") {
  ModelPtr model = create_model("resnet18", 10, 3, 0);
  randomize_all_bn(*model, 4);
  model->eval();
  const int n_layers = count_layers(*model);
  Tensor x = test::rand32({1, 3, 32, 32}, 2);
  Tensor ref;
  {
    NoGradGuard no_grad;
    ref = model->forward(x);
  }
  QuantModel qm(model, x, QuantConfig{});
  {
    NoGradGuard no_grad;  // quantization off: bit-identical, the shared relu included
    CHECK(test::same_bytes(qm.forward(x), ref));
  }
  CHECK(qm.layers().size() == size_t(n_layers));
  bool found_downsample = false;
  for (const auto& e : qm.layers())
    if (e.name == "layer2.0.downsample.0") {
      found_downsample = true;
      CHECK(e.bn == "layer2.0.downsample.1");
    }
  CHECK(found_downsample);

  CHECK(has_act(qm, "relu#0"));  // the stem relu feeds the max-pool, not the block output
  CHECK(has_act(qm, "stem:out"));
  CHECK(has_act(qm, "layer1.0.relu#0"));
  CHECK_FALSE(has_act(qm, "layer1.0.relu#1"));  // the block output: covered by layer1.0:out
  CHECK(has_act(qm, "layer1.0:out"));
  auto relu = quant_act(qm, "layer1.0.relu");
  REQUIRE(relu);
  REQUIRE(relu->uses() == 2);
  CHECK(relu->quantizer(0) != nullptr);
  CHECK(relu->quantizer(1) == nullptr);
  CHECK_FALSE(has_act(qm, "head:out"));
  CHECK(qm.acts().back().name == "layer4.1:out");
  CHECK(qm.acts().back().quantizer->bits() == 8);
  std::set<std::string> unique;
  for (const auto& a : qm.acts()) CHECK(unique.insert(a.name).second);
}

TEST_CASE("quant prepare: mobilenetv2_cifar placement ends with the head's ReLU6") {
  ModelPtr model = create_model("mobilenetv2_cifar", 10, 3, 0);
  const int n_layers = count_layers(*model);
  QuantModel qm(model, test::rand32({1, 3, 8, 8}, 3), QuantConfig{});
  REQUIRE(qm.layers().size() == size_t(n_layers));
  CHECK(qm.layers().front().name == "features.0.0");
  CHECK(qm.layers().front().bn == "features.0.1");
  CHECK(qm.layers().front().layer->bits() == 8);
  CHECK(qm.layers().back().name == "classifier.1");
  CHECK(qm.layers().back().layer->bits() == 8);
  for (size_t i = 1; i + 1 < qm.layers().size(); ++i) {
    CAPTURE(qm.layers()[i].name);
    CHECK(qm.layers()[i].layer->bits() == 4);
    CHECK(qm.layers()[i].bn != "");  // every conv of MobileNetV2 is followed by a BN
  }
  REQUIRE_FALSE(qm.acts().empty());
  CHECK(qm.acts().front().name == "stem:out");
  CHECK_FALSE(has_act(qm, "features.0.2#0"));  // the stem's ReLU6 is the stem output
  CHECK(has_act(qm, "features.1.conv.0.2#0"));
  CHECK(has_act(qm, "features.2.conv.0.2#0"));
  CHECK(has_act(qm, "features.2.conv.1.2#0"));
  CHECK(has_act(qm, "features.17:out"));
  CHECK(qm.acts().back().name == "features.18:out");  // its ReLU6 output is a block output
  CHECK(qm.acts().back().quantizer->bits() == 8);
  for (size_t i = 0; i + 1 < qm.acts().size(); ++i) CHECK(qm.acts()[i].quantizer->bits() == 4);
}

TEST_CASE("quant prepare: activation quantizer error is at most half a step per bit width") {
  for (int bits : {2, 3, 4, 8}) {
    CAPTURE(bits);
    NoGradGuard no_grad;
    ActQuantizer q(bits);
    Tensor x = test::rand32({4, 3, 6, 6}, 40 + bits, -0.5, 2.0);
    CHECK(test::same_bytes(q.forward(x), x));  // Off passes through
    q.state = ActQuantizer::State::Calibrate;
    Tensor y = q.forward(x);
    CHECK(q.state == ActQuantizer::State::On);
    const double s = q.scale.item(), z = q.zero_point.item();
    CHECK(s > 0);
    CHECK(z == std::nearbyint(z));
    CHECK(z >= 0);
    CHECK(z <= q.qmax());
    const double lo = (0 - z) * s, hi = (q.qmax() - z) * s;
    std::vector<float> xv = x.to_vector<float>(), yv = y.to_vector<float>();
    int64_t inside = 0;
    for (size_t i = 0; i < xv.size(); ++i) {
      const double code = yv[i] / s + z;
      CHECK(std::fabs(code - std::nearbyint(code)) < 1e-3);
      CHECK(code > -1e-3);
      CHECK(code < q.qmax() + 1e-3);
      if (xv[i] >= lo && xv[i] <= hi) {
        ++inside;
        CHECK(std::fabs(yv[i] - xv[i]) <= s / 2 + 1e-6);
      } else {
        CHECK(std::fabs(yv[i] - (xv[i] < lo ? lo : hi)) <= 1e-6 * (1 + std::fabs(hi)));
      }
    }
    CHECK(inside > int64_t(xv.size()) / 2);
    // Once On, the range stays.
    q.forward(test::rand32({2, 3}, 3, -10, 10));
    CHECK(q.scale.item() == s);
  }
}

TEST_CASE("quant prepare: nearest weight codes are within half a step of the folded weight") {
  Rng rng(21);
  auto conv = std::make_shared<Conv2d>(4, 6, Conv2dOptions(3).padding(1).bias(false));
  fill_uniform(conv->weight, rng, -1, 1);
  conv->weight.data<float>()[5] = 4.0f;  // an outlier in channel 0: clipped by the Lp search
  auto bn = std::make_shared<BatchNorm2d>(6);
  randomize_bn(*bn, rng);
  QuantLayer ql(conv, bn);
  ql.eval();
  Tensor x = test::rand32({2, 4, 5, 5}, 8);
  for (int bits : {2, 3, 4, 8}) {
    CAPTURE(bits);
    ql.init_grid(bits, 2.4);
    CHECK(ql.bits() == bits);
    CHECK(ql.mode() == QuantLayer::Mode::Nearest);
    REQUIRE(ql.scale.numel() == 6);
    std::vector<float> w = ql.weight.to_vector<float>(), codes = ql.codes.to_vector<float>(),
                       s = ql.scale.to_vector<float>(), z = ql.zero_point.to_vector<float>();
    std::vector<float> wq = dequantize_codes(ql.codes, ql.scale, ql.zero_point).to_vector<float>();
    const size_t inner = w.size() / 6;
    for (size_t c = 0; c < 6; ++c) {
      CHECK(s[c] > 0);
      CHECK(z[c] == std::nearbyint(z[c]));
      const double lo = (0 - z[c]) * double(s[c]), hi = (ql.qmax() - z[c]) * double(s[c]);
      for (size_t i = 0; i < inner; ++i) {
        const size_t k = c * inner + i;
        CHECK(codes[k] == std::nearbyint(codes[k]));
        CHECK(codes[k] >= 0);
        CHECK(codes[k] <= ql.qmax());
        if (w[k] >= lo && w[k] <= hi) CHECK(std::fabs(wq[k] - w[k]) <= s[c] / 2 * (1 + 1e-6));
        else CHECK(wq[k] == doctest::Approx(w[k] < lo ? lo : hi).epsilon(1e-6));
      }
    }
    if (bits <= 4) CHECK(w[5] > (ql.qmax() - z[0]) * double(s[0]));  // the outlier is clipped
    NoGradGuard no_grad;
    Tensor wq_t = dequantize_codes(ql.codes, ql.scale, ql.zero_point);
    CHECK(test::same_bytes(ql.forward(x), conv2d(x, wq_t, ql.bias, conv->params())));
  }
}

TEST_CASE("quant prepare: the Lp search keeps the range on uniform data and clips outliers") {
  Rng rng(5);
  std::vector<float> uniform(4096);
  for (float& v : uniform) v = rng.uniform(-0.5f, 1.5f);
  double lo = 0, hi = 0;
  for (float v : uniform) lo = std::min(lo, double(v)), hi = std::max(hi, double(v));
  for (int bits : {2, 3, 4, 8}) {
    CAPTURE(bits);
    const double full = (hi - lo) / (std::ldexp(1.0, bits) - 1);
    QuantRange r = shrink_search(uniform.data(), int64_t(uniform.size()), bits, 2.4);
    // a = 1 is near optimal for uniform data (the half-size end cells make a slightly smaller
    // range better at very low bit widths).
    CHECK(r.scale <= full * (1 + 1e-9));
    CHECK(r.scale >= full * (bits == 8 ? 0.98 : 0.8));
    CHECK(r.zero_point == std::nearbyint(r.zero_point));
    CHECK(r.zero_point >= 0);
    CHECK(r.zero_point <= std::ldexp(1.0, bits) - 1);
  }
  // One outlier: the search clips it.
  std::vector<float> outlier(4096);
  for (float& v : outlier) v = rng.uniform(-1.0f, 1.0f);
  outlier[100] = 5.0f;
  QuantRange r2 = shrink_search(outlier.data(), int64_t(outlier.size()), 2, 2.4);
  CHECK(r2.scale < 0.5 * (5.0 + 1.0) / 3);
  std::vector<float> gauss(4096);
  for (float& v : gauss) v = rng.normal();
  gauss[7] = 20.0f;
  double glo = 0;
  for (float v : gauss) glo = std::min(glo, double(v));
  QuantRange r4 = shrink_search(gauss.data(), int64_t(gauss.size()), 4, 2.4);
  CHECK(r4.scale < 0.8 * (20.0 - glo) / 15);

  // Edge cases: an all-zero tensor gets a tiny step; non-finite data is refused by name.
  std::vector<float> zeros(10, 0.0f);
  QuantRange rz = shrink_search(zeros.data(), 10, 4, 2.4);
  CHECK(rz.scale > 0);
  CHECK(rz.zero_point == 0);
  std::vector<float> bad = {1, 2, NAN, 3};
  CHECK_THROWS_WITH_AS(shrink_search(bad.data(), 4, 4, 2.4), doctest::Contains("non-finite"), Error);
  CHECK_THROWS_WITH_AS(shrink_search(bad.data(), 0, 4, 2.4), doctest::Contains("no values"), Error);
  QuantRange g = range_to_grid(-1.0, 3.0, 2);
  CHECK(g.scale == doctest::Approx(4.0 / 3));
  CHECK(g.zero_point == 1);
}

TEST_CASE("quant config: validation names the field") {
  for (int b : {0, 1, 9, 17}) {
    CAPTURE(b);
    QuantConfig c;
    c.wbits = b;
    CHECK_THROWS_WITH_AS(validate(c), doctest::Contains("wbits"), Error);
    QuantConfig a;
    a.abits = b;
    CHECK_THROWS_WITH_AS(validate(a), doctest::Contains("abits"), Error);
  }
  QuantConfig ok;
  validate(ok);
  ok.wbits = 2, ok.abits = 8;
  validate(ok);

  QuantConfig c;
  c.iters = -1;
  CHECK_THROWS_WITH_AS(validate(c), doctest::Contains("iters"), Error);
  c = QuantConfig();
  c.cand_lo = 1;
  CHECK_THROWS_WITH_AS(validate(c), doctest::Contains("candidates"), Error);
  c = QuantConfig();
  c.cand_hi = 0;
  CHECK_THROWS_WITH_AS(validate(c), doctest::Contains("candidates"), Error);
  c = QuantConfig();
  c.cand_lo = -2, c.cand_hi = 3;
  validate(c);
  c = QuantConfig();
  c.scope = Scope::Block;  // nwq's amixup needs the network scope
  CHECK_THROWS_WITH_AS(validate(c), doctest::Contains("amixup"), Error);
  c = preset_config("adaround", "resnet20");
  c.scope = Scope::None;
  CHECK_THROWS_WITH_AS(validate(c), doctest::Contains("rounding"), Error);
  c = QuantConfig();
  c.batch = 0;
  CHECK_THROWS_WITH_AS(validate(c), doctest::Contains("batch"), Error);
  c = QuantConfig();
  c.drop_p = 1.5;
  CHECK_THROWS_WITH_AS(validate(c), doctest::Contains("drop_p"), Error);
  // QuantModel validates too.
  QuantConfig bad;
  bad.wbits = 9;
  CHECK_THROWS_WITH_AS(
      QuantModel(create_model("resnet20", 10, 1, 0), test::rand32({1, 1, 8, 8}, 1), bad),
      doctest::Contains("wbits"), Error);
}

TEST_CASE("quant config: presets, lambda per model, names and the JSON round trip") {
  CHECK_THROWS_WITH_AS(preset_config("bogus", "resnet20"),
                       doctest::Contains("rtn, adaround, brecq, qdrop, nwq"), Error);
  CHECK_THROWS_WITH_AS(preset_config("bogus", "resnet20"), doctest::Contains("bogus"), Error);
  for (const std::string& m : preset_names()) {
    CAPTURE(m);
    QuantConfig c = preset_config(m, "resnet20");
    validate(c);
    CHECK(c.method == m);
    CHECK(c.lambda == 0.01);
    CHECK(preset_config(m, "mobilenetv2_cifar").lambda == 0.1);
    CHECK(preset_config(m, "mobilenet_v2").lambda == 0.1);
    CHECK(preset_config(m, "mnasnet2_0").lambda == 0.2);  // QDrop's exp/w2a4/mnasnet
    CHECK(preset_config(m, "mnasnet1_0_cifar").lambda == 0.2);
    CHECK(preset_config(m, "regnet_x_600mf").lambda == 0.01);
  }
  QuantConfig rtn = preset_config("rtn", "resnet20");
  CHECK((rtn.scope == Scope::None && rtn.rounding == Rounding::Nearest &&
         rtn.mixing == Mixing::None && !rtn.learn_act_steps));
  QuantConfig ada = preset_config("adaround", "resnet20");
  CHECK((ada.scope == Scope::Layer && ada.rounding == Rounding::AdaRound &&
         ada.mixing == Mixing::None));
  QuantConfig brecq = preset_config("brecq", "resnet20");
  CHECK((brecq.scope == Scope::Block && brecq.rounding == Rounding::AdaRound &&
         brecq.mixing == Mixing::None && brecq.act_steps_afterwards));
  QuantConfig qdrop = preset_config("qdrop", "resnet20");
  CHECK((qdrop.scope == Scope::Block && qdrop.rounding == Rounding::AdaRound &&
         qdrop.mixing == Mixing::QDrop));
  QuantConfig nwq = preset_config("nwq", "resnet20");
  CHECK((nwq.scope == Scope::Network && nwq.rounding == Rounding::ASoftmax &&
         nwq.mixing == Mixing::AMixup));

  CHECK(parse_scope("block", "--scope") == Scope::Block);
  CHECK(parse_rounding("asoftmax", "--rounding") == Rounding::ASoftmax);
  CHECK(parse_mixing("qdrop", "--mix") == Mixing::QDrop);
  CHECK_THROWS_WITH_AS(parse_scope("global", "--scope"), doctest::Contains("--scope"), Error);
  CHECK_THROWS_WITH_AS(parse_mixing("mixup", "--mix"), doctest::Contains("none, qdrop, amixup"),
                       Error);

  QuantConfig c = preset_config("qdrop", "mobilenetv2_cifar");
  c.method = "custom";
  c.wbits = 3, c.abits = 5;
  c.scope = Scope::Layer;
  c.first_layer_8bit = false;
  c.calib = 77, c.init_images = 33, c.iters = 123, c.batch = 7;
  c.lr_round = 3.3e-3, c.lr_act = 1.0 / 3, c.lp = 2.7, c.lambda = 0.123456789;
  c.beta_start = 17, c.beta_end = 3, c.warmup = 0.25;
  c.cand_lo = -1, c.cand_hi = 2, c.tau_start = 0.9, c.tau_end = 0.02;
  c.drop_p = 0.3, c.mix_start = 0.4, c.mix_end = 0.1;
  c.seed = (uint64_t{1} << 62) + 12345;  // beyond 2^53: must stay exact
  const std::string text = to_json(c.to_json());
  QuantConfig back = QuantConfig::from_json(parse_json(text, "config"));
  CHECK(to_json(back.to_json()) == text);
  CHECK(back.seed == c.seed);
  CHECK(back.lr_act == c.lr_act);
  CHECK(back.lambda == c.lambda);
  CHECK(back.scope == Scope::Layer);
  CHECK(back.mixing == Mixing::QDrop);
  CHECK(back.cand_lo == -1);
  CHECK_FALSE(back.first_layer_8bit);

  Json missing = parse_json(text, "config");
  Json partial = Json::object();
  for (const auto& [k, v] : missing.members())
    if (k != "tau_end") partial.set(k, v);
  CHECK_THROWS_WITH_AS(QuantConfig::from_json(partial), doctest::Contains("tau_end"), Error);
  Json invalid = parse_json(text, "config");
  invalid.set("wbits", 12);
  CHECK_THROWS_WITH_AS(QuantConfig::from_json(invalid), doctest::Contains("wbits"), Error);
  CHECK(describe_conventions(c).find("W3") != std::string::npos);
}
