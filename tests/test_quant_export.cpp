// Quantized model files: bit packing of 2..8-bit codes, save -> load reproduces the quantized
// outputs bit for bit, and damaged files (truncated codes, NaN scales, ...) are refused by name.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <memory>

#include "autograd/grad_mode.h"
#include "core/rng.h"
#include "models/layers.h"
#include "models/registry.h"
#include "quant/export.h"
#include "quant/reconstruct.h"
#include "tests/helpers.h"
#include "tests/temp_dir.h"

using namespace nwq;

namespace {

using test::TempDir;

// The message of the nwq::Error that `action` throws, or "" when it throws nothing.
template <class F>
std::string error_of(F action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

const Tensor& calib_images() {
  static const Tensor calib = test::rand32({4, 1, 8, 8}, 30);
  return calib;
}

// A resnet20 with trained-looking BNs, W3A4 (first/last layers and last input at 8 bits),
// calibrated and reconstructed for two network-scope steps: Hard layers, learned steps.
// Built once for the tests of this file (calibration costs most of their time).
std::shared_ptr<QuantModel> quantized_resnet20() {
  static std::shared_ptr<QuantModel> cached;
  if (cached) return cached;
  const Tensor& calib = calib_images();
  ModelPtr model = create_model("resnet20", 10, 1, 3);
  Rng rng(11);
  for (auto& [path, m] : model->named_modules())
    if (auto* bn = dynamic_cast<BatchNorm2d*>(m)) {
      for (Tensor* t : {&bn->weight, &bn->running_var})
        for (int64_t i = 0; i < t->numel(); ++i) t->data<float>()[i] = rng.uniform(0.5f, 1.5f);
      for (Tensor* t : {&bn->bias, &bn->running_mean})
        for (int64_t i = 0; i < t->numel(); ++i) t->data<float>()[i] = rng.uniform(-0.3f, 0.3f);
    }
  QuantConfig c = preset_config("nwq", "resnet20");
  c.wbits = 3, c.abits = 4, c.calib = calib.size(0), c.init_images = calib.size(0);
  c.batch = calib.size(0), c.iters = 2, c.lr_round = 1e-2, c.lr_act = 1e-2, c.seed = 9;
  auto qm = std::make_shared<QuantModel>(model, calib.slice(0, 0, 2), c);
  calibrate(*qm, calib);
  ReconstructOptions o;
  o.progress = false;
  reconstruct(*qm, calib, o);
  cached = qm;
  return qm;
}

// `file` with tensor `name` replaced by `edit(tensor)` (or removed when edit returns an
// undefined tensor), written to `path`.
template <class F>
void write_edited(const TensorFile& file, const std::string& name, F edit,
                  const std::string& path) {
  NamedTensors tensors;
  bool found = false;
  for (const auto& [n, t] : file.tensors) {
    if (n != name) {
      tensors.push_back({n, t});
      continue;
    }
    found = true;
    Tensor edited = edit(t.clone());
    if (edited.defined()) tensors.push_back({n, edited});
  }
  REQUIRE_MESSAGE(found, name);
  save_safetensors(path, tensors, file.metadata);
}

Tensor set_first(Tensor t, double value) {
  if (t.dtype() == DType::F32) t.data<float>()[0] = float(value);
  else t.data<int32_t>()[0] = int32_t(value);
  return t;
}

}  // namespace

TEST_CASE("quant export: pack_codes / unpack_codes round trip for 2..8 bits") {
  Rng rng(12);
  for (int bits : {1, 2, 3, 4, 5, 6, 7, 8}) {
    for (int64_t n : {0, 1, 3, 7, 8, 9, 13, 255, 1001}) {
      CAPTURE(bits);
      CAPTURE(n);
      const int max = (1 << bits) - 1;
      std::vector<uint8_t> values(static_cast<size_t>(n));
      for (auto& v : values) v = uint8_t(rng.randint(max + 1));
      if (n > 0) values.front() = values.back() = uint8_t(max);
      if (n > 2) values[1] = 0;
      std::vector<uint8_t> packed = pack_codes(values, bits);
      CHECK(int64_t(packed.size()) == (n * bits + 7) / 8);
      CHECK(unpack_codes(packed, n, bits, "t") == values);
    }
  }
  // LSB first: value i takes bits [i*bits, (i+1)*bits) of the stream.
  CHECK(pack_codes({1, 2, 3}, 2) == std::vector<uint8_t>{0x39});
  CHECK(pack_codes({7, 0, 5}, 3) == std::vector<uint8_t>{0x47, 0x01});
  CHECK(pack_codes({0xA, 0x5}, 4) == std::vector<uint8_t>{0x5A});
  CHECK(unpack_codes({0x47, 0x01}, 3, 3, "t") == std::vector<uint8_t>{7, 0, 5});

  CHECK_THROWS_WITH_AS(pack_codes({4}, 2), doctest::Contains("needs more than 2 bits"), Error);
  CHECK_THROWS_WITH_AS(pack_codes({1}, 9), doctest::Contains("bits"), Error);
  CHECK_THROWS_WITH_AS(unpack_codes({0x39, 0x00}, 3, 2, "layer1.0.conv1.codes"),
                       doctest::Contains("layer1.0.conv1.codes"), Error);
  CHECK_THROWS_WITH_AS(unpack_codes({0x47}, 3, 3, "my.codes"), doctest::Contains("my.codes"),
                       Error);
  CHECK_THROWS_WITH_AS(unpack_codes({}, 1, 4, "x.codes"), doctest::Contains("expected 1"), Error);
}

TEST_CASE("quant export: save -> load reproduces the quantized model bit for bit") {
  TempDir dir;
  const std::string path = dir / ("q.safetensors");
  auto qm = quantized_resnet20();
  for (const auto& e : qm->layers()) REQUIRE(e.layer->mode() == QuantLayer::Mode::Hard);
  save_quantized(*qm, "resnet20", path, {{"data", "unit-test"}});

  TensorFile file = load_safetensors(path);
  CHECK(is_quantized_file(file));
  CHECK(file.meta("format") == kQuantizedFormat);
  CHECK(file.meta("model") == "resnet20");
  CHECK(file.meta("data") == "unit-test");
  CHECK(file.at("layer1.0.conv1.codes").dtype() == DType::U8);
  CHECK(file.at("layer1.0.conv1.codes").numel() == (16 * 16 * 9 * 3 + 7) / 8);
  CHECK(file.at("conv1.codes").numel() == 16 * 9);  // 8 bits
  CHECK(file.at("linear.codes").numel() == 10 * 64);
  CHECK(file.at("layer1.0.conv1.scale").numel() == 16);
  CHECK(file.contains("act.layer1.0.relu1#0.scale"));
  CHECK(file.contains("act.layer3.2:out.zero_point"));
  const std::string described = describe_quantized(file);
  CHECK(contains(described, "layer1.0.conv1: W3"));
  CHECK(contains(described, "conv1: W8"));
  CHECK(contains(described, "act layer3.2:out: A8"));

  auto loaded = load_quantized(file, 10, 1, 8, 8, Device::cpu());
  REQUIRE(loaded->layers().size() == qm->layers().size());
  REQUIRE(loaded->acts().size() == qm->acts().size());
  for (size_t i = 0; i < qm->layers().size(); ++i) {
    CAPTURE(qm->layers()[i].name);
    CHECK(loaded->layers()[i].layer->bits() == qm->layers()[i].layer->bits());
    CHECK(loaded->layers()[i].layer->mode() == QuantLayer::Mode::Hard);
    CHECK(test::same_bytes(loaded->layers()[i].layer->codes, qm->layers()[i].layer->codes));
  }
  for (size_t i = 0; i < qm->acts().size(); ++i) {
    CHECK(loaded->acts()[i].quantizer->bits() == qm->acts()[i].quantizer->bits());
    CHECK(loaded->acts()[i].quantizer->state == ActQuantizer::State::On);
  }
  const Tensor x = test::rand32({3, 1, 8, 8}, 31);
  NoGradGuard no_grad;
  Tensor want = qm->forward(x);
  Tensor got = loaded->forward(x);
  CHECK(test::same_bytes(got, want));
}

TEST_CASE("quant export: damaged or foreign files are refused naming the file and the tensor") {
  TempDir dir;
  const std::string path = dir / ("q.safetensors");
  auto qm = quantized_resnet20();
  save_quantized(*qm, "resnet20", path);
  const TensorFile file = load_safetensors(path);
  auto load = [](const std::string& p) {
    return [p] { load_quantized(load_safetensors(p), 10, 1, 8, 8, Device::cpu()); };
  };

  // Not a quantized file: an FP checkpoint.
  const std::string fp = dir / ("fp.safetensors");
  create_model("resnet20", 10, 1, 0)->save(fp, {{"model", "resnet20"}});
  std::string err = error_of(load(fp));
  CHECK(contains(err, fp));
  CHECK(contains(err, "not a quantized model"));

  // Codes one byte short.
  const std::string truncated = dir / ("truncated.safetensors");
  auto drop_last_byte = [](const Tensor& t) { return t.slice(0, 0, t.numel() - 1).contiguous(); };
  write_edited(file, "layer2.1.conv2.codes", drop_last_byte, truncated);
  err = error_of(load(truncated));
  CHECK(contains(err, truncated));
  CHECK(contains(err, "layer2.1.conv2.codes"));

  // A NaN weight scale, a NaN activation step, a missing tensor.
  const std::string nan_scale = dir / ("nan_scale.safetensors");
  write_edited(file, "layer1.2.conv1.scale", [](const Tensor& t) { return set_first(t, NAN); },
               nan_scale);
  err = error_of(load(nan_scale));
  CHECK(contains(err, nan_scale));
  CHECK(contains(err, "layer1.2.conv1.scale"));
  const std::string nan_act = dir / ("nan_act.safetensors");
  write_edited(file, "act.layer2.0:out.scale", [](const Tensor& t) { return set_first(t, NAN); },
               nan_act);
  err = error_of(load(nan_act));
  CHECK(contains(err, nan_act));
  CHECK(contains(err, "act.layer2.0:out.scale"));
  const std::string zero_act = dir / ("zero_act.safetensors");
  write_edited(file, "act.stem:out.scale", [](const Tensor& t) { return set_first(t, 0.0); },
               zero_act);
  err = error_of(load(zero_act));
  CHECK(contains(err, zero_act));
  CHECK(contains(err, "act.stem:out.scale"));
  const std::string missing = dir / ("missing.safetensors");
  write_edited(file, "linear.bias", [](const Tensor&) { return Tensor(); }, missing);
  err = error_of(load(missing));
  CHECK(contains(err, missing));
  CHECK(contains(err, "linear.bias"));

  // Saving needs rounded layers and calibrated activations.
  QuantModel raw(create_model("resnet20", 10, 1, 0), calib_images().slice(0, 0, 1), QuantConfig{});
  CHECK_THROWS_WITH_AS(save_quantized(raw, "resnet20", dir / ("raw.safetensors")),
                       doctest::Contains("not hardened"), Error);
  CHECK_FALSE(std::filesystem::exists(dir / ("raw.safetensors")));
}

// Biases must be finite, weight scales positive and zero points inside [0, 2^bits - 1].
TEST_CASE("quant export: non-finite biases and non-positive weight scales are refused") {
  TempDir dir;
  const std::string path = dir / ("q.safetensors");
  auto qm = quantized_resnet20();
  save_quantized(*qm, "resnet20", path);
  const TensorFile file = load_safetensors(path);
  auto load = [](const std::string& p) {
    return [p] { load_quantized(load_safetensors(p), 10, 1, 8, 8, Device::cpu()); };
  };
  const std::string nan_bias = dir / ("nan_bias.safetensors");
  write_edited(file, "layer1.0.conv1.bias", [](const Tensor& t) { return set_first(t, NAN); },
               nan_bias);
  std::string err = error_of(load(nan_bias));
  CHECK(contains(err, nan_bias));
  CHECK(contains(err, "layer1.0.conv1.bias"));
  const std::string neg_scale = dir / ("neg_scale.safetensors");
  write_edited(file, "layer1.0.conv2.scale", [](const Tensor& t) { return set_first(t, -0.5); },
               neg_scale);
  err = error_of(load(neg_scale));
  CHECK(contains(err, neg_scale));
  CHECK(contains(err, "layer1.0.conv2.scale"));
  const std::string bad_zp = dir / ("bad_zp.safetensors");
  write_edited(file, "layer1.0.conv2.zero_point", [](const Tensor& t) { return set_first(t, 40); },
               bad_zp);  // outside [0, 7] for 3 bits
  err = error_of(load(bad_zp));
  CHECK(contains(err, bad_zp));
  CHECK(contains(err, "layer1.0.conv2.zero_point"));
}

// Fuzz finding quantized-describe-div-by-zero: `nwq info` divided by a layer's bit width as the
// metadata gave it; now every width is checked (2..8) before use.
TEST_CASE("quant export: describe_quantized refuses bit widths outside 2..8") {
  TempDir dir;
  const std::string path = dir / ("q.safetensors"), bad = dir / ("bits0.safetensors");
  save_quantized(*quantized_resnet20(), "resnet20", path);
  TensorFile f = load_safetensors(path);
  for (auto& [key, value] : f.metadata)
    if (key == "bits") {
      const size_t at = value.find("\"conv1\":");
      REQUIRE(at != std::string::npos);
      value.replace(at, value.find_first_of(",}", at) - at, "\"conv1\":0");
    }
  save_safetensors(bad, f.tensors, f.metadata);
  CHECK_THROWS_WITH_AS(describe_quantized(load_safetensors(bad)), doctest::Contains("0 bits"), Error);
  CHECK_THROWS_WITH_AS(load_quantized(load_safetensors(bad), 10, 1, 8, 8, Device::cpu()),
                       doctest::Contains("0 bits"), Error);
}
