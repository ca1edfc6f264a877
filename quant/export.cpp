// Saving and loading quantized models: bit packing, the tensor layout, and the summary for info.
#include "quant/export.h"

#include <map>

#include "core/error.h"
#include "models/registry.h"

namespace nwq {

std::vector<uint8_t> pack_codes(const std::vector<uint8_t>& values, int bits) {
  NWQ_CHECK(bits >= 1 && bits <= 8, "pack_codes: bits = ", bits);
  std::vector<uint8_t> out((values.size() * bits + 7) / 8, 0);
  for (size_t i = 0; i < values.size(); ++i) {
    NWQ_CHECK(values[i] >> bits == 0, "pack_codes: value ", int(values[i]), " needs more than ",
              bits, " bits");
    for (int k = 0; k < bits; ++k) {
      const size_t bit = i * bits + k;
      if (values[i] >> k & 1) out[bit / 8] |= uint8_t(1u << (bit % 8));
    }
  }
  return out;
}

std::vector<uint8_t> unpack_codes(const std::vector<uint8_t>& bytes, int64_t n, int bits,
                                  const std::string& label) {
  NWQ_CHECK(bits >= 1 && bits <= 8, label, ": ", bits, " bits per code is outside 1..8");
  // Bounds n before n * bits is computed (it could overflow); n up to 8 codes per byte + 8 gets
  // the exact message below.
  NWQ_CHECK(n >= 0 && n <= (int64_t(bytes.size()) + 1) * 8, label, ": ", bytes.size(),
            " bytes cannot hold ", n, " codes");
  NWQ_CHECK(int64_t(bytes.size()) == (n * bits + 7) / 8, label, ": ", bytes.size(),
            " bytes of codes, expected ", (n * bits + 7) / 8, " for ", n, " values of ", bits, " bits");
  std::vector<uint8_t> out(static_cast<size_t>(n), 0);
  for (int64_t i = 0; i < n; ++i)
    for (int k = 0; k < bits; ++k) {
      const int64_t bit = i * bits + k;
      if (bytes[bit / 8] >> (bit % 8) & 1) out[i] |= uint8_t(1u << k);
    }
  return out;
}

namespace {

Tensor as_i32(const Tensor& t) {
  std::vector<float> v = t.to_vector<float>();
  return Tensor::from_vector(std::vector<int32_t>(v.begin(), v.end()), t.sizes());
}

Json bits_json(const QuantModel& m) {
  Json layers = Json::object(), acts = Json::object();
  for (const auto& e : m.layers()) layers.set(e.name, e.layer->bits());
  for (const auto& a : m.acts()) acts.set(a.name, a.quantizer->bits());
  return Json::object({{"layers", layers}, {"activations", acts}});
}

// Bits from the file's metadata: 2..8 for every entry.
int bits_of(const TensorFile& f, const Json& bits, const char* kind, const std::string& name) {
  const int64_t b = bits.at(kind).at(name).as_int64();
  NWQ_CHECK(b >= 2 && b <= 8, f.path, ": ", name, " has ", b, " bits (2..8 expected)");
  return static_cast<int>(b);
}

// Throws naming the file and tensor unless every value is in [lo, hi] (NaN fails too).
void check_range(const TensorFile& f, const std::string& name, double lo, double hi) {
  std::vector<double> v = f.at(name).to(DType::F64).to_vector<double>();
  for (size_t i = 0; i < v.size(); ++i)
    NWQ_CHECK(v[i] >= lo && v[i] <= hi, f.path, ": tensor '", name, "' element ", i, " is ", v[i],
              ", outside [", lo, ", ", hi, "]");
}

void load_layer(const TensorFile& f, const Json& bits, const QuantModel::LayerEntry& e) {
  const int b = bits_of(f, bits, "layers", e.name);
  const double qmax = double((1 << b) - 1);
  const std::string label = f.path + ": " + e.name + ".codes";
  std::vector<uint8_t> codes = unpack_codes(f.at(e.name + ".codes").to_vector<uint8_t>(),
                                            e.layer->weight.numel(), b, label);
  Tensor c = Tensor::from_vector(std::vector<float>(codes.begin(), codes.end()), e.layer->weight.sizes());
  const std::string s = e.name + ".scale", z = e.name + ".zero_point", bias = e.name + ".bias";
  check_range(f, s, 1e-30, 1e30);
  check_range(f, z, 0, qmax);
  check_finite(f.at(bias), bias, f.path);
  const int64_t out = e.layer->weight.size(0);
  NWQ_CHECK(f.at(s).numel() == out && f.at(z).numel() == out && f.at(bias).numel() == out, f.path,
            ": ", e.name, " needs ", out, " scales, zero points and biases (one per output channel)");
  e.layer->set_codes(b, c, f.at(s), f.at(z).to(DType::F32));
  e.layer->bias.copy_(f.at(bias).to(DType::F32).view({out}));
}

void load_act(const TensorFile& f, const Json& bits, const QuantModel::ActEntry& a) {
  const int b = bits_of(f, bits, "activations", a.name);
  const std::string s = "act." + a.name + ".scale", z = "act." + a.name + ".zero_point";
  check_range(f, s, 1e-30, 1e30);
  check_range(f, z, 0, double((1 << b) - 1));
  NWQ_CHECK(f.at(s).numel() == 1 && f.at(z).numel() == 1, f.path, ": ", s, " and ", z,
            " must hold one value");
  a.quantizer->set_bits(b);
  a.quantizer->set_range(f.at(s).to(DType::F64).item(), f.at(z).to(DType::F64).item());
  a.quantizer->state = ActQuantizer::State::On;
}

}  // namespace

void save_quantized(const QuantModel& m, const std::string& model_name, const std::string& path,
                    const SafetensorsMetadata& extra) {
  NamedTensors tensors;
  for (const auto& e : m.layers()) {
    const QuantLayer& l = *e.layer;
    NWQ_CHECK(l.mode() == QuantLayer::Mode::Nearest || l.mode() == QuantLayer::Mode::Hard,
              "save_quantized: layer ", e.name, " is not hardened");
    std::vector<float> codes = l.codes.to_vector<float>();
    std::vector<uint8_t> packed = pack_codes(std::vector<uint8_t>(codes.begin(), codes.end()), l.bits());
    tensors.push_back({e.name + ".codes", Tensor::from_vector(packed, {int64_t(packed.size())})});
    tensors.push_back({e.name + ".scale", l.scale.to(Device::cpu())});
    tensors.push_back({e.name + ".zero_point", as_i32(l.zero_point)});
    tensors.push_back({e.name + ".bias", l.bias.to(Device::cpu())});
  }
  for (const auto& a : m.acts()) {
    NWQ_CHECK(a.quantizer->state == ActQuantizer::State::On, "save_quantized: ", a.name, " is off");
    tensors.push_back({"act." + a.name + ".scale", a.quantizer->scale.detach().to(Device::cpu())});
    tensors.push_back({"act." + a.name + ".zero_point", as_i32(a.quantizer->zero_point)});
  }
  SafetensorsMetadata meta = {{"format", kQuantizedFormat},
                              {"model", model_name},
                              {"config", to_json(m.config().to_json())},
                              {"bits", to_json(bits_json(m))}};
  meta.insert(meta.end(), extra.begin(), extra.end());
  save_safetensors(path, tensors, meta);
}

bool is_quantized_file(const TensorFile& file) { return file.meta("format") == kQuantizedFormat; }

std::shared_ptr<QuantModel> load_quantized(const TensorFile& f, int num_classes, int in_channels,
                                           int64_t height, int64_t width, Device device) {
  NWQ_CHECK(is_quantized_file(f), f.path, ": not a quantized model (metadata format is '",
            f.meta("format"), "')");
  const std::string name = f.meta("model");
  QuantConfig config = QuantConfig::from_json(parse_json(f.meta("config"), f.path + " metadata config"));
  Json bits = parse_json(f.meta("bits"), f.path + " metadata bits");
  ModelPtr model = create_model(name, num_classes, in_channels, 0);
  model->to(device);
  Tensor sample = Tensor::zeros({1, in_channels, height, width}, DType::F32, device);
  auto qm = std::make_shared<QuantModel>(model, sample, config);
  for (const auto& e : qm->layers()) load_layer(f, bits, e);
  for (const auto& a : qm->acts()) load_act(f, bits, a);
  return qm;
}

std::string describe_quantized(const TensorFile& f) {
  Json bits = parse_json(f.meta("bits"), f.path + " metadata bits");
  std::string out = str("quantized model ", f.meta("model"), " (", f.meta("format"), ")\n");
  int64_t packed = 0, fp32 = 0;
  for (const auto& [layer, b] : bits.at("layers").members()) {
    const int64_t code_bytes = f.at(layer + ".codes").numel();
    const int64_t weights = code_bytes * 8 / bits_of(f, bits, "layers", layer);
    const int64_t side = (f.at(layer + ".scale").numel() * 3) * 4;  // scale, zero point, bias
    out += str("  ", layer, ": W", b.as_int64(), ", ~", weights, " weights, ", code_bytes + side, " bytes\n");
    packed += code_bytes + side;
    fp32 += weights * 4 + f.at(layer + ".scale").numel() * 4;
  }
  for (const auto& [act, b] : bits.at("activations").members())
    out += str("  act ", act, ": A", b.as_int64(), "\n");
  out += str("size: ", packed, " bytes quantized vs ", fp32, " bytes FP32 weights and biases (",
             double(fp32) / double(std::max<int64_t>(packed, 1)), "x smaller)\n");
  return out;
}

}  // namespace nwq
