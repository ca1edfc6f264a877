// The rest of the PTQ papers' model list: RegNetX-600MF / 3.2GF and MNASNet 1.0 / 2.0. Stage
// generator, parameter counts, names and shapes, pycls / QDrop checkpoint names, blocks(),
// activation-quantizer placement, and every method end to end on small random copies.
#include <doctest/doctest.h>

#include <cmath>
#include <map>

#include "autograd/grad_mode.h"
#include "core/tensor_io.h"
#include "models/mnasnet.h"
#include "models/registry.h"
#include "models/regnet.h"
#include "quant/config.h"
#include "quant/export.h"
#include "quant/reconstruct.h"
#include "tests/helpers.h"
#include "tests/model_test_util.h"
#include "tests/quant_test_util.h"
#include "tests/temp_dir.h"

using namespace nwq;

using test::block_names;
using test::block_shapes;
using test::has_key;

namespace {

const Tensor& at(const NamedTensors& state, const std::string& key) {
  for (const auto& entry : state) {
    if (entry.first == key) return entry.second;
  }
  throw Error("no key " + key);
}

// A RegNetX-600MF state_dict named as pycls (and BRECQ's / QDrop's regnet.py) names it: stem.
// {conv,bn}, sS.bB.{proj,bn,f.a,f.a_bn,f.b,f.b_bn,f.c,f.c_bn}, head.fc; written from pycls's
// structure (depths 1 3 5 7, widths 48 96 240 528, group width 24), not from our model. Every
// tensor holds its own index so the test can tell where each one went.
NamedTensors pycls_regnet_600mf_state(int num_classes) {
  NamedTensors s;
  auto add = [&](const std::string& name, const Shape& shape) {
    s.emplace_back(name, Tensor::full(shape, static_cast<double>(s.size())));
  };
  auto bn = [&](const std::string& n, int c) {
    for (const char* p : {".weight", ".bias", ".running_mean", ".running_var"}) add(n + p, {c});
    s.emplace_back(n + ".num_batches_tracked", Tensor::scalar(0, DType::I64));
  };
  add("stem.conv.weight", {32, 3, 3, 3});
  bn("stem.bn", 32);
  const int depths[4] = {1, 3, 5, 7}, widths[4] = {48, 96, 240, 528};
  int w_in = 32;
  for (int st = 0; st < 4; ++st) {
    for (int b = 0; b < depths[st]; ++b) {
      const std::string p = str("s", st + 1, ".b", b + 1, ".");
      const int w = widths[st], in = b == 0 ? w_in : w;
      if (b == 0) {
        add(p + "proj.weight", {w, in, 1, 1});
        bn(p + "bn", w);
      }
      add(p + "f.a.weight", {w, in, 1, 1});
      bn(p + "f.a_bn", w);
      add(p + "f.b.weight", {w, 24, 3, 3});
      bn(p + "f.b_bn", w);
      add(p + "f.c.weight", {w, w, 1, 1});
      bn(p + "f.c_bn", w);
    }
    w_in = widths[st];
  }
  add("head.fc.weight", {num_classes, 528});
  add("head.fc.bias", {num_classes});
  return s;
}

// Random-initialised model with trained-looking BNs (folding and calibration see real ranges).
ModelPtr random_model(const std::string& name, int classes, uint64_t seed) {
  ModelPtr model = create_model(name, classes, 3, seed);
  test::randomize_all_bn(*model, seed + 1);
  model->eval();
  return model;
}

std::vector<std::string> names_of(const NamedTensors& state) {
  std::vector<std::string> names;
  for (const auto& entry : state) names.push_back(entry.first);
  return names;
}

bool all_finite(const Tensor& t) {
  Tensor c = t.contiguous();
  for (int64_t i = 0; i < c.numel(); ++i) {
    if (!std::isfinite(c.data<float>()[i])) return false;
  }
  return true;
}

int stride_of(Module& model, const std::string& conv) {
  return dynamic_cast<Conv2d&>(*model.find(conv)).params().stride_h;
}

bool has_act(const QuantModel& qm, const std::string& name) {
  for (const auto& a : qm.acts()) {
    if (a.name == name) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("regnet: the stage generator gives torchvision's / pycls's stages") {
  RegNetStages s600 = regnet_stages(16, 48, 36.97, 2.24, 24);
  CHECK(s600.depths == std::vector<int>{1, 3, 5, 7});
  CHECK(s600.widths == std::vector<int>{48, 96, 240, 528});
  CHECK(s600.group_widths == std::vector<int>{24, 24, 24, 24});
  RegNetStages s32 = regnet_stages(25, 88, 26.31, 2.25, 48);
  CHECK(s32.depths == std::vector<int>{2, 6, 15, 2});
  CHECK(s32.widths == std::vector<int>{96, 192, 432, 1008});
  CHECK(s32.group_widths == std::vector<int>{48, 48, 48, 48});
  // RegNetX-400MF (torchvision's regnet_x_400mf): 1 2 7 12 stages, 32 64 160 400, groups of 16.
  RegNetStages s400 = regnet_stages(22, 24, 24.48, 2.54, 16);
  CHECK(s400.depths == std::vector<int>{1, 2, 7, 12});
  CHECK(s400.widths == std::vector<int>{32, 64, 160, 400});
  CHECK_THROWS_WITH_AS(regnet_stages(16, 44, 36.97, 2.24, 24), doctest::Contains("multiple of 8"),
                       Error);
  CHECK_THROWS_WITH_AS(regnet_stages(16, 48, 36.97, 1.0, 24), doctest::Contains("w_m 1"), Error);
  CHECK_THROWS_WITH_AS(ResBottleneckBlock(48, 96, 2, 40), doctest::Contains("group width 40"),
                       Error);
}

TEST_CASE("mnasnet: torchvision's rounded channel counts") {
  CHECK(mnasnet_depths(1.0) == std::vector<int>{32, 16, 24, 40, 80, 96, 192, 320});
  CHECK(mnasnet_depths(2.0) == std::vector<int>{64, 32, 48, 80, 160, 192, 384, 640});
  CHECK(mnasnet_depths(0.5) == std::vector<int>{16, 8, 16, 24, 40, 48, 96, 160});
  CHECK(mnasnet_depths(1.3) == std::vector<int>{40, 24, 32, 56, 104, 128, 248, 416});
  CHECK_THROWS_WITH_AS(mnasnet_depths(0), doctest::Contains("alpha must be > 0"), Error);
}

TEST_CASE("regnet / mnasnet: torchvision parameter counts, names and structure") {
  ModelPtr r600 = create_model("regnet_x_600mf", 1000, 3, 0);
  ModelPtr r32 = create_model("regnet_x_3_2gf", 1000, 3, 0);
  ModelPtr m1 = create_model("mnasnet1_0", 1000, 3, 0);
  ModelPtr m2 = create_model("mnasnet2_0", 1000, 3, 0);
  CHECK(r600->num_parameters() == 6196040);
  CHECK(r32->num_parameters() == 15296552);
  CHECK(m1->num_parameters() == 4383312);
  CHECK(m2->num_parameters() == 12469944);

  NamedTensors s = r600->state_dict();
  CHECK(s.front().first == "stem.0.weight");
  CHECK(s.back().first == "fc.bias");
  CHECK(has_key(s, "trunk_output.block1.block1-0.proj.0.weight"));
  CHECK(has_key(s, "trunk_output.block1.block1-0.proj.1.num_batches_tracked"));
  CHECK_FALSE(has_key(s, "trunk_output.block2.block2-1.proj.0.weight"));  // kept shape: none
  CHECK(at(s, "trunk_output.block2.block2-1.f.b.0.weight").sizes() == Shape{96, 24, 3, 3});
  CHECK(at(s, "trunk_output.block4.block4-6.f.c.1.running_var").sizes() == Shape{528});
  CHECK(r600->find("trunk_output.block3.block3-4.f.b.2")->type_name() == "ReLU");
  CHECK(dynamic_cast<Conv2d&>(*r600->find("trunk_output.block4.block4-0.f.b.0")).params().groups ==
        22);
  CHECK(dynamic_cast<Conv2d&>(*r32->find("trunk_output.block4.block4-1.f.b.0")).params().groups ==
        21);
  CHECK(r600->find("trunk_output.block1.block1-0")->type_name() == "ResBottleneckBlock");

  NamedTensors sm = m1->state_dict();
  CHECK(sm.front().first == "layers.0.weight");
  CHECK(sm.back().first == "classifier.1.bias");
  CHECK(at(sm, "layers.3.weight").sizes() == Shape{32, 1, 3, 3});
  CHECK(at(sm, "layers.9.0.layers.3.weight").sizes() == Shape{72, 1, 5, 5});
  CHECK(at(sm, "layers.13.0.layers.6.weight").sizes() == Shape{320, 1152, 1, 1});
  CHECK(dynamic_cast<BatchNorm2d&>(*m1->find("layers.8.1.layers.4")).momentum() ==
        1.0 - 0.9997);
  CHECK_FALSE(dynamic_cast<MnasInvertedResidual&>(*m1->find("layers.8.0")).apply_residual());
  CHECK(dynamic_cast<MnasInvertedResidual&>(*m1->find("layers.8.1")).apply_residual());
  CHECK(dynamic_cast<Dropout&>(*m1->find("classifier.0")).p() == doctest::Approx(0.2));

  std::vector<std::string> names = block_names(*r600);
  REQUIRE(names.size() == 18);  // stem, 16 ResBottleneckBlocks, head
  CHECK(names[1] == "trunk_output.block1.block1-0");
  CHECK(names[16] == "trunk_output.block4.block4-6");
  CHECK(block_names(*r32).size() == 27);
  names = block_names(*m2);
  REQUIRE(names.size() == 21);  // stem, layers.3, layers.6, 16 inverted residuals, .14, head
  CHECK(std::vector<std::string>(names.begin(), names.begin() + 4) ==
        std::vector<std::string>{"stem", "layers.3", "layers.6", "layers.8.0"});
  CHECK(names[18] == "layers.13.0");
  CHECK(names[19] == "layers.14");
  CHECK(names.back() == "head");

  // 64x64 in: RegNet's stem and every stage halve (32, 16, 8, 4, 2); MNASNet's stem halves and
  // four stacks stride (32, 16, 8, 4, 4, 2, 2).
  Rng rng(5);
  Tensor x = Tensor::normal({1, 3, 64, 64}, rng);
  std::vector<Shape> r = block_shapes(*r600, x);
  CHECK(r[0] == Shape{1, 32, 32, 32});
  CHECK(r[1] == Shape{1, 48, 16, 16});
  CHECK(r[16] == Shape{1, 528, 2, 2});
  CHECK(r.back() == Shape{1, 1000});
  std::vector<Shape> m = block_shapes(*m1, x);
  CHECK(m[2] == Shape{1, 16, 32, 32});
  CHECK(m[3] == Shape{1, 24, 16, 16});
  CHECK(m[18] == Shape{1, 320, 2, 2});
  CHECK(m[19] == Shape{1, 1280, 2, 2});
  CHECK(m.back() == Shape{1, 1000});
  // The blocks compose to forward().
  NoGradGuard no_grad;
  Tensor y = x;
  for (const Block& b : m1->blocks()) y = b.forward(y);
  CHECK(test::max_abs_diff(y, m1->forward(x)) == 0.0);
}

TEST_CASE("regnet_x_600mf_cifar / mnasnet1_0_cifar: the ImageNet networks with two strides at 1") {
  // The 32x32 variants (as mobilenetv2_cifar): the same parameters and names as the ImageNet
  // networks; only the stem and the first stride-2 block of the first stage keep the resolution.
  for (const auto& [cifar, imagenet] : std::vector<std::pair<std::string, std::string>>{
           {"regnet_x_600mf_cifar", "regnet_x_600mf"}, {"mnasnet1_0_cifar", "mnasnet1_0"}}) {
    CAPTURE(cifar);
    ModelPtr c = create_model(cifar, 10, 3, 3), i = create_model(imagenet, 10, 3, 3);
    CHECK(c->num_parameters() == i->num_parameters());
    CHECK(names_of(c->state_dict()) == names_of(i->state_dict()));
    CHECK(block_names(*c) == block_names(*i));
    // Same seed, same init: the variants differ in strides only.
    CHECK(test::max_abs_diff(c->state_dict()[0].second, i->state_dict()[0].second) == 0.0);
  }
  ModelPtr r = create_model("regnet_x_600mf_cifar", 10, 3, 0);
  ModelPtr m = create_model("mnasnet1_0_cifar", 10, 3, 0);
  CHECK(r->num_parameters() == 5672330);  // docs/MODELS.md
  CHECK(m->num_parameters() == 3115122);
  CHECK(stride_of(*r, "stem.0") == 1);
  CHECK(stride_of(*r, "trunk_output.block1.block1-0.f.b.0") == 1);
  CHECK(stride_of(*r, "trunk_output.block2.block2-0.f.b.0") == 2);
  CHECK(stride_of(*m, "layers.0") == 1);
  CHECK(stride_of(*m, "layers.8.0.layers.3") == 1);
  CHECK(stride_of(*m, "layers.9.0.layers.3") == 2);
  // 32x32 in: RegNet 32 (stem), 32, 16, 8, 4; MNASNet 32, 32 (layers.8), 16, 8, 8, 4, 4.
  Rng rng(6);
  Tensor x = Tensor::normal({2, 3, 32, 32}, rng);
  std::vector<Shape> rs = block_shapes(*r, x);
  CHECK(rs[0] == Shape{2, 32, 32, 32});
  CHECK(rs[1] == Shape{2, 48, 32, 32});
  CHECK(rs[2] == Shape{2, 96, 16, 16});
  CHECK(rs[16] == Shape{2, 528, 4, 4});
  CHECK(rs.back() == Shape{2, 10});
  std::vector<Shape> ms = block_shapes(*m, x);
  CHECK(ms[3] == Shape{2, 24, 32, 32});
  CHECK(ms[6] == Shape{2, 40, 16, 16});
  CHECK(ms[18] == Shape{2, 320, 4, 4});
  CHECK(ms.back() == Shape{2, 10});
  CHECK(r->extra_repr().find("cifar strides") != std::string::npos);
  CHECK(m->extra_repr().find("cifar strides") != std::string::npos);
}

TEST_CASE("regnet: pycls / BRECQ / QDrop checkpoint names load into torchvision's") {
  const NamedTensors pycls = pycls_regnet_600mf_state(10);
  ModelPtr model = create_model("regnet_x_600mf", 10, 3, 0);
  REQUIRE(pycls.size() == model->state_dict().size());
  std::map<std::string, std::string> expect = {
      {"stem.conv.weight", "stem.0.weight"},
      {"stem.bn.running_mean", "stem.1.running_mean"},
      {"s1.b1.proj.weight", "trunk_output.block1.block1-0.proj.0.weight"},
      {"s1.b1.bn.bias", "trunk_output.block1.block1-0.proj.1.bias"},
      {"s2.b3.f.a.weight", "trunk_output.block2.block2-2.f.a.0.weight"},
      {"s3.b5.f.b_bn.running_var", "trunk_output.block3.block3-4.f.b.1.running_var"},
      {"s4.b7.f.c_bn.weight", "trunk_output.block4.block4-6.f.c.1.weight"},
      {"head.fc.weight", "fc.weight"}};
  // DataParallel-wrapped, as many zoo files are; and without BN counters.
  NamedTensors wrapped;
  for (const auto& [name, t] : pycls) {
    if (name.find("num_batches_tracked") == std::string::npos) wrapped.emplace_back("module." + name, t);
  }
  for (const NamedTensors* file : {&pycls, static_cast<const NamedTensors*>(&wrapped)}) {
    NamedTensors mapped = model->normalize_checkpoint(*file);
    model->load_state_dict(mapped, true, "pycls");
    NamedTensors ours = model->state_dict();
    for (const auto& [from, to] : expect) {
      CAPTURE(from);
      CHECK(test::max_abs_diff(at(ours, to), at(pycls, from)) == 0.0);
    }
  }
  // torchvision's own names pass through.
  NamedTensors tv = model->state_dict();
  CHECK(names_of(model->normalize_checkpoint(tv)) == names_of(tv));
  // A pycls file of another RegNet is refused naming the keys that do not fit.
  NamedTensors wrong = pycls;
  wrong.emplace_back("s5.b1.f.a.weight", Tensor::zeros({4, 4, 1, 1}));
  CHECK_THROWS_WITH_AS(model->load_state_dict(model->normalize_checkpoint(wrong), true, "x.pth"),
                       doctest::Contains("trunk_output.block5.block5-0.f.a.0.weight"), Error);
}

TEST_CASE("mnasnet: QDrop's / BRECQ's MNASNet files (torchvision names) load as they are") {
  ModelPtr source = create_model("mnasnet2_0", 10, 3, 1);
  ModelPtr model = create_model("mnasnet2_0", 10, 3, 2);
  NamedTensors file;
  for (const auto& [name, t] : source->state_dict()) {
    if (name.find("num_batches_tracked") == std::string::npos) file.emplace_back("module." + name, t);
  }
  model->load_state_dict(model->normalize_checkpoint(file), true, "mnasnet.pth");
  const NamedTensors a = source->state_dict(), b = model->state_dict();
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].second.dtype() == DType::F32) CHECK(test::max_abs_diff(a[i].second, b[i].second) == 0.0);
  }
}

TEST_CASE("quant prepare: regnet and mnasnet activation-quantizer placement") {
  ModelPtr regnet = random_model("regnet_x_600mf", 10, 3);
  QuantModel qr(regnet, test::rand32({1, 3, 32, 32}, 3), QuantConfig{});
  CHECK(qr.layers().front().name == "stem.0");
  CHECK(qr.layers().front().bn == "stem.1");
  CHECK(qr.layers().front().layer->bits() == 8);
  CHECK(qr.layers().back().name == "fc");
  CHECK(qr.layers().back().layer->bits() == 8);
  CHECK(qr.acts().front().name == "stem:out");  // the stem's ReLU output is the block output
  CHECK(has_act(qr, "trunk_output.block1.block1-0.f.a.2#0"));
  CHECK(has_act(qr, "trunk_output.block1.block1-0.f.b.2#0"));
  CHECK(has_act(qr, "trunk_output.block1.block1-0:out"));
  CHECK_FALSE(has_act(qr, "trunk_output.block1.block1-0.activation#0"));  // is the block output
  CHECK(qr.acts().back().name == "trunk_output.block4.block4-6:out");
  CHECK(qr.acts().back().quantizer->bits() == 8);  // the last layer's input
  CHECK(qr.acts().size() == 1 + 16 * 3);

  ModelPtr mnas = random_model("mnasnet1_0", 10, 4);
  QuantModel qm(mnas, test::rand32({1, 3, 32, 32}, 4), QuantConfig{});
  CHECK(qm.layers().front().name == "layers.0");
  CHECK(qm.layers().front().layer->bits() == 8);
  CHECK(qm.layers().back().name == "classifier.1");
  for (const char* name : {"stem:out", "layers.3:out", "layers.6:out", "layers.8.0.layers.2#0",
                           "layers.8.0.layers.5#0", "layers.8.0:out", "layers.13.0:out"}) {
    CAPTURE(name);
    CHECK(has_act(qm, name));
  }
  CHECK(qm.acts().back().name == "layers.14:out");
  CHECK(qm.acts().back().quantizer->bits() == 8);
  CHECK(qm.acts().size() == 3 + 16 * 3 + 1);
}

// Every method on the new models: calibrate, reconstruct (two steps per unit), export, reload.
// Small random copies at 32x32 with 10 classes; the reloaded file must give the same bytes. The
// five methods differ only in quant/ code that is model-agnostic, so the two large networks
// (calibration of their 12-15M weights dominates) run NWQ alone; the sanitizer build (about 10x
// slower) runs one network with NWQ.
TEST_CASE("quantize: regnet and mnasnet through rtn, adaround, brecq, qdrop and nwq, export, reload") {
#ifdef __SANITIZE_ADDRESS__
  const std::vector<std::pair<std::string, std::vector<std::string>>> runs = {
      {"mnasnet1_0", {"nwq"}}};
#else
  const std::vector<std::string> all = {"rtn", "adaround", "brecq", "qdrop", "nwq"};
  const std::vector<std::pair<std::string, std::vector<std::string>>> runs = {
      {"regnet_x_600mf", all}, {"mnasnet1_0", all}, {"regnet_x_3_2gf", {"nwq"}},
      {"mnasnet2_0", {"nwq"}}};
#endif
  test::TempDir dir;
  const Tensor calib = test::rand32({4, 3, 32, 32}, 40);
  for (const auto& [name, methods] : runs) {
    for (const std::string& method : methods) {
      CAPTURE(name);
      CAPTURE(method);
      ModelPtr model = random_model(name, 10, 7);
      Tensor fp;
      {
        NoGradGuard no_grad;
        fp = model->forward(calib);
      }
      QuantConfig c = preset_config(method, name);
      c.wbits = 2, c.abits = 4, c.calib = 4, c.init_images = 4, c.batch = 2, c.iters = 2;
      c.seed = 3;
      auto qm = std::make_shared<QuantModel>(model, calib.slice(0, 0, 1), c);
      calibrate(*qm, calib);
      ReconstructOptions o;
      o.progress = false;
      reconstruct(*qm, calib, o);
      for (const auto& e : qm->layers()) CHECK(e.layer->mode() != QuantLayer::Mode::Float);
      const std::string path = dir / (name + "_" + method + ".safetensors");
      save_quantized(*qm, name, path);
      auto loaded = load_quantized(load_safetensors(path), 10, 3, 32, 32, Device::cpu());
      NoGradGuard no_grad;
      Tensor q = qm->forward(calib);
      CHECK(test::same_bytes(loaded->forward(calib), q));
      CHECK(all_finite(q));
      CHECK(test::max_abs_diff(q, fp) > 0.0);  // 2-bit weights change the logits
    }
  }
}
