// QuantLayer: BN folding, the per-channel weight grid, nearest / soft / hardened rounding, and the
// forward of each mode.
#include "quant/quant_layer.h"

#include <cmath>
#include <vector>

#include "autograd/grad_mode.h"
#include "core/error.h"
#include "models/layers.h"
#include "ops/linear.h"
#include "ops/soft_round.h"
#include "quant/range_search.h"

namespace nwq {

namespace {

std::vector<double> host_values(const Tensor& t) {
  return t.detach().contiguous().to(Device::cpu()).to(DType::F64).to_vector<double>();
}

Tensor float_tensor(const std::vector<double>& v, const Shape& shape, Device device) {
  std::vector<float> f(v.begin(), v.end());
  return Tensor::from_vector(f, shape, device);
}

}  // namespace

Tensor dequantize_codes(const Tensor& codes, const Tensor& scale, const Tensor& zero_point) {
  std::vector<double> q = host_values(codes), s = host_values(scale), z = host_values(zero_point);
  const int64_t channels = static_cast<int64_t>(s.size()), inner = codes.numel() / channels;
  NWQ_CHECK(channels * inner == codes.numel() && z.size() == s.size(),
            "dequantize_codes: codes ", shape_str(codes.sizes()), " do not match ", channels,
            " channel scales");
  std::vector<float> w(q.size());
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t i = 0; i < inner; ++i)
      w[c * inner + i] = static_cast<float>((q[c * inner + i] - z[c]) * s[c]);
  return Tensor::from_vector(w, codes.sizes(), codes.device());
}

QuantLayer::QuantLayer(ModulePtr layer, ModulePtr bn) : layer_(std::move(layer)), bn_(std::move(bn)) {
  auto* conv = dynamic_cast<Conv2d*>(layer_.get());
  auto* lin = dynamic_cast<Linear*>(layer_.get());
  NWQ_CHECK(conv || lin, "QuantLayer: expects a Conv2d or Linear, got ", layer_->type_name());
  is_conv_ = conv != nullptr;
  const Tensor& w = conv ? conv->weight : lin->weight;
  const Tensor& b = conv ? conv->bias : lin->bias;
  const int64_t out = w.size(0), inner = w.numel() / out;
  std::vector<double> wv = host_values(w), bv(out, 0.0);
  if (b.defined()) bv = host_values(b);
  if (bn_) {
    auto* norm = dynamic_cast<BatchNorm2d*>(bn_.get());
    NWQ_CHECK(norm && norm->num_features() == out, "QuantLayer: cannot fold ", bn_->type_name(),
              " into a layer with ", out, " outputs");
    std::vector<double> g = host_values(norm->weight), beta = host_values(norm->bias),
                        mean = host_values(norm->running_mean), var = host_values(norm->running_var);
    for (int64_t c = 0; c < out; ++c) {
      const double k = g[c] / std::sqrt(var[c] + norm->eps());
      for (int64_t i = 0; i < inner; ++i) wv[c * inner + i] *= k;
      bv[c] = (bv[c] - mean[c]) * k + beta[c];
    }
  }
  weight = float_tensor(wv, w.sizes(), w.device());
  bias = float_tensor(bv, {out}, w.device());
  register_module("layer", &layer_);
  if (bn_) register_module("bn", &bn_);
  register_buffer("weight", &weight);
  register_buffer("bias", &bias);
  register_buffer("scale", &scale);
  register_buffer("zero_point", &zero_point);
  register_buffer("codes", &codes);
  register_buffer("w_floor", &w_floor_);
  register_buffer("nearest_codes", &nearest_);
  register_buffer("weight_q", &weight_q_);
  register_parameter("round_v", &round_v);
}

std::string QuantLayer::extra_repr() const { return str("bits=", bits_); }

Tensor QuantLayer::apply(const Tensor& x, const Tensor& w) const {
  if (is_conv_) return conv2d(x, w, bias, static_cast<const Conv2d&>(*layer_).params());
  return linear(x, w, bias);
}

Tensor QuantLayer::forward(const Tensor& x) {
  Tensor y;
  switch (mode_) {
    case Mode::Float:
      y = layer_->forward(x);
      if (bn_) y = bn_->forward(y);
      break;
    case Mode::Nearest:
    case Mode::Hard:
      y = apply(x, weight_q_);
      break;
    case Mode::Soft:
      y = apply(x, soft_weight());
      break;
  }
  if (observer) observer(x, y);
  return y;
}

Tensor QuantLayer::soft_weight() const {
  return rounding_ == Rounding::AdaRound
             ? adaround_soft_weight(w_floor_, round_v, scale, zero_point, 0, qmax())
             : asoftmax_soft_weight(w_floor_, round_v, cand_lo_, tau, scale, zero_point, 0, qmax());
}

void QuantLayer::init_grid(int bits, double lp, Observer observer) {
  bits_ = bits;
  const Device device = weight.device();
  observe_per_channel(weight, bits, lp, observer, scale, zero_point);
  std::vector<double> w = host_values(weight), s = host_values(scale), z = host_values(zero_point);
  const int64_t channels = weight.size(0), inner = weight.numel() / channels;
  std::vector<double> fl(w.size()), q(w.size());
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t i = 0; i < inner; ++i) {
      const double v = w[c * inner + i] / s[c];
      fl[c * inner + i] = std::floor(v);
      q[c * inner + i] = std::min(std::max(std::nearbyint(v) + z[c], 0.0), double(qmax()));
    }
  scale = scale.to(device);
  zero_point = zero_point.to(device);
  w_floor_ = float_tensor(fl, weight.sizes(), device);
  nearest_ = float_tensor(q, weight.sizes(), device);
  codes = nearest_.clone();
  refresh_weight_q();
  mode_ = Mode::Nearest;
}

void QuantLayer::refresh_weight_q() { weight_q_ = dequantize_codes(codes, scale, zero_point); }

void QuantLayer::init_rounding(Rounding rounding, int cand_lo, int cand_hi) {
  NWQ_CHECK(w_floor_.defined(), "QuantLayer::init_rounding before init_grid");
  rounding_ = rounding;
  cand_lo_ = cand_lo;
  std::vector<double> w = host_values(weight), s = host_values(scale), fl = host_values(w_floor_);
  const int64_t channels = weight.size(0), inner = weight.numel() / channels;
  std::vector<double> frac(w.size());
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t i = 0; i < inner; ++i)
      frac[c * inner + i] = std::min(std::max(w[c * inner + i] / s[c] - fl[c * inner + i], 0.0), 1.0);
  const Device device = weight.device();
  if (rounding == Rounding::AdaRound) {
    const double zeta = 1.1, gamma = -0.1;
    std::vector<double> v(frac.size());
    for (size_t i = 0; i < frac.size(); ++i) v[i] = -std::log((zeta - gamma) / (frac[i] - gamma) - 1);
    round_v = float_tensor(v, weight.sizes(), device);
  } else if (rounding == Rounding::ASoftmax) {
    round_v = asoftmax_init_logits(float_tensor(frac, weight.sizes(), Device::cpu()), cand_lo,
                                   cand_hi).to(device);
  } else {
    throw Error("QuantLayer::init_rounding: nearest rounding has no variables");
  }
  round_v.set_requires_grad(true);
  tau = 1.0;
  mode_ = Mode::Soft;
}

void QuantLayer::harden() {
  NWQ_CHECK(round_v.defined(), "QuantLayer::harden without rounding variables");
  NoGradGuard no_grad;
  Tensor r = rounding_ == Rounding::AdaRound ? hard_round_adaround(round_v.detach())
                                             : hard_round_asoftmax(round_v.detach(), cand_lo_);
  std::vector<double> rv = host_values(r), fl = host_values(w_floor_), z = host_values(zero_point),
                      nq = host_values(nearest_), s = host_values(scale),
                      soft = host_values(soft_weight());
  const int64_t channels = weight.size(0), inner = weight.numel() / channels;
  std::vector<double> q(rv.size());
  int64_t away = 0;
  double gap = 0;
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t k = c * inner + i;
      q[k] = std::min(std::max(fl[k] + rv[k] + z[c], 0.0), double(qmax()));
      away += q[k] != nq[k];
      gap += std::abs(soft[k] / s[c] + z[c] - q[k]);  // soft code = w_soft / s + z
    }
  away_share_ = double(away) / double(q.size());
  hardening_gap_ = gap / double(q.size());
  codes = float_tensor(q, weight.sizes(), weight.device());
  refresh_weight_q();
  round_v = Tensor();
  mode_ = Mode::Hard;
}

Tensor QuantLayer::regularizer(double beta) const {
  NWQ_CHECK(rounding_ == Rounding::AdaRound && round_v.defined(),
            "QuantLayer::regularizer: only AdaRound rounding has a regularizer");
  return adaround_regularizer(round_v, beta);
}

void QuantLayer::set_codes(int bits, const Tensor& c, const Tensor& s, const Tensor& z) {
  const Device device = weight.device();
  NWQ_CHECK(c.sizes() == weight.sizes(), "QuantLayer: codes ", shape_str(c.sizes()),
            " do not match the weight ", shape_str(weight.sizes()));
  bits_ = bits;
  codes = c.to(DType::F32).to(device);
  scale = s.to(DType::F32).to(device);
  zero_point = z.to(DType::F32).to(device);
  nearest_ = codes;
  refresh_weight_q();
  mode_ = Mode::Hard;
}

void QuantLayer::save_run_state(const std::string& prefix, NamedTensors& tensors, Json& meta) const {
  const std::pair<const char*, const Tensor*> fields[] = {
      {"scale", &scale}, {"zero_point", &zero_point}, {"codes", &codes}, {"w_floor", &w_floor_},
      {"nearest", &nearest_}, {"round_v", &round_v}};
  for (const auto& [name, t] : fields)
    if (t->defined()) tensors.push_back({prefix + name, t->detach().to(Device::cpu())});
  meta = Json::object({{"mode", int(mode_)}, {"bits", bits_}, {"rounding", to_string(rounding_)},
                       {"cand_lo", cand_lo_}, {"tau", tau}, {"away", away_share_},
                       {"gap", hardening_gap_}});
}

void QuantLayer::restore_run_state(const TensorFile& f, const std::string& prefix, const Json& meta) {
  const Device device = weight.device();
  auto get = [&](const char* name) {
    return f.contains(prefix + name) ? f.at(prefix + name).to(device) : Tensor();
  };
  scale = get("scale"), zero_point = get("zero_point"), codes = get("codes");
  w_floor_ = get("w_floor"), nearest_ = get("nearest"), round_v = get("round_v");
  if (round_v.defined()) round_v.set_requires_grad(true);
  if (codes.defined()) refresh_weight_q();
  bits_ = static_cast<int>(meta.at("bits").as_int64());
  rounding_ = parse_rounding(meta.at("rounding").as_string(), f.path);
  cand_lo_ = static_cast<int>(meta.at("cand_lo").as_int64());
  tau = meta.at("tau").as_double();
  away_share_ = meta.at("away").as_double();
  hardening_gap_ = meta.contains("gap") ? meta.at("gap").as_double() : 0.0;  // older run states
  set_mode(static_cast<Mode>(meta.at("mode").as_int64()));
}

void QuantLayer::set_mode(Mode mode) {
  NWQ_CHECK(mode == Mode::Float || mode == Mode::Soft || codes.defined(),
            "QuantLayer: no codes yet (init_grid first)");
  NWQ_CHECK(mode != Mode::Soft || round_v.defined(), "QuantLayer: no rounding variables");
  mode_ = mode;
}

}  // namespace nwq
