// Checkpoint-name normalisation for the model zoo: wrapper prefixes (module., model.,
// _orig_mod.), BatchNorm counters missing from old files, and timm's mobilenetv2_100 names.
#include <doctest/doctest.h>

#include <map>

#include "models/checkpoint_names.h"
#include "models/mobilenet_v2.h"
#include "models/registry.h"
#include "models/resnet.h"
#include "tests/helpers.h"

using namespace nwq;

namespace {

NamedTensors with_prefix(const NamedTensors& state, const std::string& prefix) {
  NamedTensors out;
  for (const auto& [name, t] : state) out.emplace_back(prefix + name, t);
  return out;
}

NamedTensors without_counters(const NamedTensors& state) {
  NamedTensors out;
  for (const auto& entry : state) {
    if (entry.first.find("num_batches_tracked") == std::string::npos) out.push_back(entry);
  }
  return out;
}

// A state_dict named as timm's mobilenetv2_100 (EfficientNet builder) would name it, built from
// timm's architecture string ds_r1_k3_s1_c16, ir_r2_k3_s2_e6_c24, ... ir_r1_k3_s1_e6_c320.
// Every tensor is filled with its own index, so the test can tell where each one went.
NamedTensors timm_mobilenet_v2_state(int num_classes) {
  NamedTensors s;
  auto add = [&](const std::string& name, const Shape& shape) {
    s.emplace_back(name, Tensor::full(shape, static_cast<double>(s.size())));
  };
  auto conv = [&](const std::string& n, int out, int in, int k) {
    add(n + ".weight", {out, in, k, k});
  };
  auto bn = [&](const std::string& n, int c) {
    for (const char* p : {".weight", ".bias", ".running_mean", ".running_var"}) add(n + p, {c});
    s.emplace_back(n + ".num_batches_tracked", Tensor::scalar(0, DType::I64));
  };
  conv("conv_stem", 32, 3, 3);
  bn("bn1", 32);
  const int stages[7][3] = {{1, 16, 1}, {6, 24, 2}, {6, 32, 3}, {6, 64, 4},
                            {6, 96, 3}, {6, 160, 3}, {6, 320, 1}};  // t, c, n
  int in = 32;
  for (int st = 0; st < 7; ++st) {
    for (int i = 0; i < stages[st][2]; ++i) {
      std::string p = str("blocks.", st, ".", i, ".");
      int mid = in * stages[st][0], out = stages[st][1];
      if (st == 0) {  // DepthwiseSeparableConv
        conv(p + "conv_dw", in, 1, 3);
        bn(p + "bn1", in);
        conv(p + "conv_pw", out, in, 1);
        bn(p + "bn2", out);
      } else {  // InvertedResidual
        conv(p + "conv_pw", mid, in, 1);
        bn(p + "bn1", mid);
        conv(p + "conv_dw", mid, 1, 3);
        bn(p + "bn2", mid);
        conv(p + "conv_pwl", out, mid, 1);
        bn(p + "bn3", out);
      }
      in = out;
    }
  }
  conv("conv_head", 1280, 320, 1);
  bn("bn2", 1280);
  add("classifier.weight", {num_classes, 1280});
  add("classifier.bias", {num_classes});
  return s;
}

}  // namespace

TEST_CASE("model_zoo: wrapper prefixes come off only when every key has them") {
  Tensor t = Tensor::zeros({1});
  NamedTensors nested = {{"module._orig_mod.conv1.weight", t}, {"module._orig_mod.fc.bias", t}};
  NamedTensors out = strip_wrapper_prefixes(nested);
  CHECK(out[0].first == "conv1.weight");
  CHECK(out[1].first == "fc.bias");
  NamedTensors mixed = {{"module.conv1.weight", t}, {"fc.bias", t}};
  CHECK(strip_wrapper_prefixes(mixed)[0].first == "module.conv1.weight");
  CHECK(strip_wrapper_prefixes({}).empty());
  NamedTensors lightning = {{"model.layer1.0.conv1.weight", t}};
  CHECK(strip_wrapper_prefixes(lightning)[0].first == "layer1.0.conv1.weight");
}

TEST_CASE("model_zoo: normalize_resnet_names loads DataParallel and pre-0.4.1 files") {
  ModelPtr source = create_model("resnet18", 10, 3, 1);
  ModelPtr target = create_model("resnet18", 10, 3, 2);
  NamedTensors saved = with_prefix(without_counters(source->state_dict()), "module.");
  CHECK_THROWS_AS(target->load_state_dict(saved), Error);
  NamedTensors fixed = normalize_resnet_names(saved);
  CHECK(fixed.size() == source->state_dict().size());
  target->load_state_dict(fixed);
  NamedTensors a = source->state_dict(), b = target->state_dict();
  for (size_t i = 0; i < a.size(); ++i) {
    CAPTURE(a[i].first);
    CHECK(a[i].first == b[i].first);  // counters are inserted where torch lists them
    if (a[i].second.dtype() == DType::F32) {
      CHECK(test::max_abs_diff(a[i].second, b[i].second) == 0);
    }
  }
  CHECK(target->find("bn1")->state_dict().back().second.item() == 0);
  // A plain torchvision state_dict passes through unchanged.
  NamedTensors plain = source->state_dict(), same = normalize_resnet_names(plain);
  REQUIRE(same.size() == plain.size());
  for (size_t i = 0; i < plain.size(); ++i) CHECK(same[i].first == plain[i].first);
}

TEST_CASE("model_zoo: normalize_mobilenet_v2_names maps timm mobilenetv2_100 keys") {
  NamedTensors timm = timm_mobilenet_v2_state(1000);
  std::map<std::string, double> index;
  for (const auto& [name, t] : timm) {
    if (t.dtype() == DType::F32) index[name] = t.to_vector<float>()[0];
  }
  NamedTensors saved = with_prefix(without_counters(timm), "module.");
  ModelPtr model = create_model("mobilenet_v2", 1000, 3, 0);
  model->load_state_dict(normalize_mobilenet_v2_names(saved));  // strict: all names and shapes

  const std::vector<std::pair<const char*, const char*>> expected = {
      {"conv_stem.weight", "features.0.0.weight"},
      {"bn1.running_var", "features.0.1.running_var"},
      {"blocks.0.0.conv_dw.weight", "features.1.conv.0.0.weight"},
      {"blocks.0.0.bn1.bias", "features.1.conv.0.1.bias"},
      {"blocks.0.0.conv_pw.weight", "features.1.conv.1.weight"},
      {"blocks.0.0.bn2.weight", "features.1.conv.2.weight"},
      {"blocks.1.0.conv_pw.weight", "features.2.conv.0.0.weight"},
      {"blocks.1.1.bn1.weight", "features.3.conv.0.1.weight"},
      {"blocks.2.0.conv_dw.weight", "features.4.conv.1.0.weight"},
      {"blocks.3.3.bn2.running_mean", "features.10.conv.1.1.running_mean"},
      {"blocks.3.3.conv_pwl.weight", "features.10.conv.2.weight"},
      {"blocks.5.2.bn3.bias", "features.16.conv.3.bias"},
      {"blocks.6.0.bn3.weight", "features.17.conv.3.weight"},
      {"conv_head.weight", "features.18.0.weight"},
      {"bn2.bias", "features.18.1.bias"},
      {"classifier.weight", "classifier.1.weight"},
      {"classifier.bias", "classifier.1.bias"}};
  NamedTensors loaded = model->state_dict();
  std::map<std::string, Tensor> by_name(loaded.begin(), loaded.end());
  for (const auto& [timm_name, tv_name] : expected) {
    CAPTURE(timm_name);
    REQUIRE(by_name.count(tv_name) == 1);
    CHECK(by_name.at(tv_name).to_vector<float>()[0] == index.at(timm_name));
  }
  // torchvision names are left alone.
  NamedTensors plain = model->state_dict(), same = normalize_mobilenet_v2_names(plain);
  REQUIRE(same.size() == plain.size());
  for (size_t i = 0; i < plain.size(); ++i) CHECK(same[i].first == plain[i].first);
}
