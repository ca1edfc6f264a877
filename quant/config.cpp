// Quantization configuration: presets, names of the axes, validation, JSON round trip and the
// printed conventions.
#include "quant/config.h"

#include "core/error.h"

namespace nwq {

const std::vector<std::string>& preset_names() {
  static const std::vector<std::string> names = {"rtn", "adaround", "brecq", "qdrop", "nwq"};
  return names;
}

QuantConfig preset_config(const std::string& method, const std::string& model_name) {
  QuantConfig c;
  c.method = method;
  // λ per network as QDrop's exp/<bits>/<model>/config.yaml ("weight"): 0.1 MobileNetV2,
  // 0.2 MnasNet, 0.01 ResNets and RegNets.
  if (model_name.find("mobilenet") != std::string::npos) c.lambda = 0.1;
  if (model_name.find("mnasnet") != std::string::npos) c.lambda = 0.2;
  if (method == "rtn") {
    c.scope = Scope::None, c.rounding = Rounding::Nearest, c.mixing = Mixing::None;
    c.learn_act_steps = false;
  } else if (method == "adaround") {
    c.scope = Scope::Layer, c.rounding = Rounding::AdaRound, c.mixing = Mixing::None;
    c.learn_act_steps = false;
  } else if (method == "brecq") {
    c.scope = Scope::Block, c.rounding = Rounding::AdaRound, c.mixing = Mixing::None;
    c.learn_act_steps = false, c.act_steps_afterwards = true;
    c.lr_act = 4e-4;  // BRECQ's main_imagenet.py --lr for its activation pass
  } else if (method == "qdrop") {
    c.scope = Scope::Block, c.rounding = Rounding::AdaRound, c.mixing = Mixing::QDrop;
  } else if (method == "nwq") {
    c.scope = Scope::Network, c.rounding = Rounding::ASoftmax, c.mixing = Mixing::AMixup;
  } else {
    std::string list;
    for (const auto& n : preset_names()) list += (list.empty() ? "" : ", ") + n;
    throw Error(str("--method: unknown method '", method, "' (known: ", list, ")"));
  }
  return c;
}

std::string to_string(Scope s) {
  switch (s) {
    case Scope::None: return "none";
    case Scope::Layer: return "layer";
    case Scope::Block: return "block";
    case Scope::Network: return "network";
  }
  return "?";
}
std::string to_string(Rounding r) {
  switch (r) {
    case Rounding::Nearest: return "nearest";
    case Rounding::AdaRound: return "adaround";
    case Rounding::ASoftmax: return "asoftmax";
  }
  return "?";
}
std::string to_string(Mixing m) {
  switch (m) {
    case Mixing::None: return "none";
    case Mixing::QDrop: return "qdrop";
    case Mixing::AMixup: return "amixup";
  }
  return "?";
}

std::string to_string(CalibOn c) { return c == CalibOn::Fp ? "fp" : "quantized"; }
std::string to_string(LossReduce r) { return r == LossReduce::Channel ? "channel" : "sample"; }

// The enum value whose to_string is `text`, else an error listing the choices.
template <class E>
static E parse_enum(const std::string& text, const std::string& flag, std::vector<E> values) {
  std::string list;
  for (E v : values) {
    if (to_string(v) == text) return v;
    list += (list.empty() ? "" : ", ") + to_string(v);
  }
  throw Error(str(flag, ": unknown value '", text, "' (choose from ", list, ")"));
}
Scope parse_scope(const std::string& text, const std::string& flag) {
  return parse_enum<Scope>(text, flag, {Scope::None, Scope::Layer, Scope::Block, Scope::Network});
}
Rounding parse_rounding(const std::string& text, const std::string& flag) {
  return parse_enum<Rounding>(text, flag, {Rounding::Nearest, Rounding::AdaRound, Rounding::ASoftmax});
}
Mixing parse_mixing(const std::string& text, const std::string& flag) {
  return parse_enum<Mixing>(text, flag, {Mixing::None, Mixing::QDrop, Mixing::AMixup});
}
CalibOn parse_calib_on(const std::string& text, const std::string& flag) {
  return parse_enum<CalibOn>(text, flag, {CalibOn::Fp, CalibOn::Quantized});
}
LossReduce parse_loss_reduce(const std::string& text, const std::string& flag) {
  return parse_enum<LossReduce>(text, flag, {LossReduce::Channel, LossReduce::Sample});
}

void validate(const QuantConfig& c) {
  auto need = [](bool ok, const char* field, const std::string& why) {
    if (!ok) throw Error(str("quantization config: ", field, " ", why));
  };
  need(c.wbits >= 2 && c.wbits <= 8, "wbits", str("= ", c.wbits, " is outside 2..8"));
  need(c.abits >= 2 && c.abits <= 8, "abits", str("= ", c.abits, " is outside 2..8"));
  need(c.calib >= 1, "calib", "must be at least 1");
  need(c.init_images >= 1, "init_images", "must be at least 1");
  need(c.iters >= 0, "iters", "must not be negative");
  need(c.batch >= 1, "batch", "must be at least 1");
  need(c.lr_round > 0 && c.lr_act >= 0, "lr", "rates must be positive");
  need(c.lp >= 1, "lp", "must be at least 1");
  need(c.step_pass_lp >= 1, "step_pass_lp", "must be at least 1");
  need(c.lambda >= 0, "lambda", "must not be negative");
  need(c.beta_start >= 1 && c.beta_end >= 1, "beta", "must be at least 1");
  need(c.warmup >= 0 && c.warmup < 1, "warmup", "must be in [0, 1)");
  need(c.cand_lo <= 0 && c.cand_hi >= 1, "candidates", "must include 0 and 1 (lo <= 0 < 1 <= hi)");
  need(c.tau_start > 0 && c.tau_end > 0, "tau", "must be positive");
  need(c.drop_p >= 0 && c.drop_p <= 1, "drop_p", "must be in [0, 1]");
  need(c.mix_start >= 0 && c.mix_start <= 1 && c.mix_end >= 0 && c.mix_end <= 1, "mix",
       "shares must be in [0, 1]");
  need(!(c.scope == Scope::None && c.rounding != Rounding::Nearest), "rounding",
       "needs a reconstruction scope (scope none rounds to nearest)");
  need(!(c.mixing == Mixing::AMixup && c.scope != Scope::Network), "mixing",
       "amixup mixes block inputs across the network: it needs scope network");
}

Json QuantConfig::to_json() const {
  Json j = Json::object({{"method", method}, {"wbits", wbits}, {"abits", abits},
                         {"scope", to_string(scope)}, {"rounding", to_string(rounding)},
                         {"mixing", to_string(mixing)}, {"learn_act_steps", learn_act_steps},
                         {"act_steps_afterwards", act_steps_afterwards}});
  j.set("first_layer_8bit", first_layer_8bit);
  j.set("last_layer_8bit", last_layer_8bit);
  j.set("last_act_8bit", last_act_8bit);
  j.set("calib", calib);
  j.set("init_images", init_images);
  j.set("iters", iters);
  j.set("batch", batch);
  j.set("lr_round", lr_round);
  j.set("lr_act", lr_act);
  j.set("lp", lp);
  j.set("observer", to_string(observer));
  j.set("calib_on", to_string(calib_on));
  j.set("loss_reduce", to_string(loss_reduce));
  j.set("step_pass_lp", step_pass_lp);
  j.set("act_grad_scale", act_grad_scale);
  j.set("lambda", lambda);
  j.set("beta_start", beta_start);
  j.set("beta_end", beta_end);
  j.set("warmup", warmup);
  j.set("cand_lo", cand_lo);
  j.set("cand_hi", cand_hi);
  j.set("tau_start", tau_start);
  j.set("tau_end", tau_end);
  j.set("drop_p", drop_p);
  j.set("mix_start", mix_start);
  j.set("mix_end", mix_end);
  j.set("cache_fp", cache_fp);
  j.set("seed", seed);
  return j;
}

// An int field; values outside int's range are refused rather than narrowed.
static int int_field(const Json& j, const char* key) {
  const int64_t v = j.at(key).as_int64();
  NWQ_CHECK(v >= -1000000 && v <= 1000000, "quantization config: ", key, " = ", v, " is out of range");
  return static_cast<int>(v);
}

QuantConfig QuantConfig::from_json(const Json& j) {
  QuantConfig c;
  c.method = j.at("method").as_string();
  c.wbits = int_field(j, "wbits");
  c.abits = int_field(j, "abits");
  c.scope = parse_scope(j.at("scope").as_string(), "scope");
  c.rounding = parse_rounding(j.at("rounding").as_string(), "rounding");
  c.mixing = parse_mixing(j.at("mixing").as_string(), "mixing");
  c.learn_act_steps = j.at("learn_act_steps").as_bool();
  c.act_steps_afterwards = j.at("act_steps_afterwards").as_bool();
  c.first_layer_8bit = j.at("first_layer_8bit").as_bool();
  c.last_layer_8bit = j.at("last_layer_8bit").as_bool();
  c.last_act_8bit = j.at("last_act_8bit").as_bool();
  c.calib = j.at("calib").as_int64();
  c.init_images = j.at("init_images").as_int64();
  c.iters = j.at("iters").as_int64();
  c.batch = j.at("batch").as_int64();
  c.lr_round = j.at("lr_round").as_double();
  c.lr_act = j.at("lr_act").as_double();
  c.lp = j.at("lp").as_double();
  // Files written before these fields existed used the earlier choices.
  c.observer = j.contains("observer") ? parse_observer(j.at("observer").as_string(), "observer")
                                      : Observer::Shrink;
  c.calib_on = j.contains("calib_on") ? parse_calib_on(j.at("calib_on").as_string(), "calib_on")
                                      : CalibOn::Quantized;
  c.loss_reduce = j.contains("loss_reduce")
                      ? parse_loss_reduce(j.at("loss_reduce").as_string(), "loss_reduce")
                      : LossReduce::Sample;
  c.act_grad_scale = j.contains("act_grad_scale") && j.at("act_grad_scale").as_bool();
  c.step_pass_lp = j.contains("step_pass_lp") ? j.at("step_pass_lp").as_double() : 2.0;
  c.lambda = j.at("lambda").as_double();
  c.beta_start = j.at("beta_start").as_double();
  c.beta_end = j.at("beta_end").as_double();
  c.warmup = j.at("warmup").as_double();
  c.cand_lo = int_field(j, "cand_lo");
  c.cand_hi = int_field(j, "cand_hi");
  c.tau_start = j.at("tau_start").as_double();
  c.tau_end = j.at("tau_end").as_double();
  c.drop_p = j.at("drop_p").as_double();
  c.mix_start = j.at("mix_start").as_double();
  c.mix_end = j.at("mix_end").as_double();
  c.cache_fp = j.contains("cache_fp") && j.at("cache_fp").as_bool();
  c.seed = static_cast<uint64_t>(j.at("seed").as_int64());
  validate(c);
  return c;
}

std::string describe_conventions(const QuantConfig& c) {
  const std::string search = c.observer == Observer::Mse
                                 ? str("QDrop's MSE observer (L", c.lp, ", 100 ranges x every zero point)")
                                 : str("the shrinking L", c.lp, " search");
  std::string s;
  s += str("  weights: W", c.wbits, ", per output channel, asymmetric; initial range by ", search, "\n");
  s += str("  activations: A", c.abits, ", per tensor, asymmetric, learnable step (LSQ",
           c.act_grad_scale ? ", gradient scale 1/sqrt(numel*qmax)" : "", "); range by the same ",
           "observer on ", c.init_images, " calibration images through the ",
           c.calib_on == CalibOn::Fp ? "full-precision network" : "quantized prefix", "\n");
  s += "  placement: after every ReLU/ReLU6 inside a block and at each block output; input image"
       " not quantized\n";
  s += str("  8-bit: first layer weights ", c.first_layer_8bit ? "yes" : "no",
           ", last layer weights ", c.last_layer_8bit ? "yes" : "no", ", last layer input ",
           c.last_act_8bit ? "yes" : "no", "\n");
  s += str("  reconstruction loss: squared error summed over ",
           c.loss_reduce == LossReduce::Channel ? "channels, averaged over batch and positions"
                                                : "each sample, averaged over the batch",
           "\n");
  if (c.act_steps_afterwards)
    s += str("  activation step pass (BRECQ): |error|^", c.step_pass_lp,
             " summed over channels, iters / 4 per block\n");
  s += "  BN folded into the preceding conv; rounding hardened at the end; evaluation never mixes\n";
  return s;
}

}  // namespace nwq
