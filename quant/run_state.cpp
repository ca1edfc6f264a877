// Saving and restoring the state of a quantization run for --resume.
#include "quant/run_state.h"

#include "core/error.h"
#include "core/tensor_io.h"

namespace nwq {

namespace {

Json rng_json(const std::array<uint64_t, 4>& s) {
  Json j = Json::array();
  for (uint64_t v : s) j.push_back(std::to_string(v));  // strings: JSON numbers lose 64-bit ints
  return j;
}

std::array<uint64_t, 4> rng_from(const Json& j) {
  std::array<uint64_t, 4> s{};
  for (size_t i = 0; i < 4; ++i) s[i] = std::stoull(j[i].as_string());
  return s;
}

Json logs_json(const std::vector<UnitLog>& logs) {
  Json out = Json::array();
  for (const auto& u : logs) {
    Json curve = Json::array();
    for (const auto& p : u.curve) curve.push_back(Json::array({p.iter, p.rec, p.reg}));
    out.push_back(Json::object({{"name", u.name}, {"iters", u.iters}, {"seconds", u.seconds},
                                {"curve", curve}}));
  }
  return out;
}

std::vector<UnitLog> logs_from(const Json& j) {
  std::vector<UnitLog> logs;
  for (const Json& u : j.as_array()) {
    UnitLog l;
    l.name = u.at("name").as_string();
    l.iters = u.at("iters").as_int64();
    l.seconds = u.at("seconds").as_double();
    for (const Json& p : u.at("curve").as_array())
      l.curve.push_back({p[0].as_int64(), p[1].as_double(), p[2].as_double()});
    logs.push_back(l);
  }
  return logs;
}

}  // namespace

void save_run_state(const std::string& path, const QuantModel& m, const RunState& s) {
  NamedTensors tensors;
  Json layers = Json::array(), acts = Json::array(), errors = Json::array();
  for (const auto& e : m.layers()) {
    Json meta;
    e.layer->save_run_state("layer." + e.name + ".", tensors, meta);
    layers.push_back(meta);
  }
  for (const auto& a : m.acts()) {
    tensors.push_back({"act." + a.name + ".scale", a.quantizer->scale.detach().to(Device::cpu())});
    tensors.push_back({"act." + a.name + ".zero_point", a.quantizer->zero_point.to(Device::cpu())});
    acts.push_back(Json::object({{"bits", a.quantizer->bits()}, {"state", int(a.quantizer->state)}}));
  }
  for (size_t i = 0; i < s.round_moments.size(); ++i)
    tensors.push_back({str("opt.round.", i), s.round_moments[i].to(Device::cpu())});
  for (size_t i = 0; i < s.act_moments.size(); ++i)
    tensors.push_back({str("opt.act.", i), s.act_moments[i].to(Device::cpu())});
  for (double e : s.errors_before) errors.push_back(e);
  Json where = Json::object({{"unit", s.unit}, {"iter", s.iter}, {"batch_rng", rng_json(s.batch_rng)},
                             {"mix_rng", rng_json(s.mix_rng)}, {"round_steps", s.round_steps},
                             {"act_steps", s.act_steps},
                             {"round_moments", int64_t(s.round_moments.size())},
                             {"act_moments", int64_t(s.act_moments.size())}});
  save_safetensors(path, tensors,
                   {{"format", "nwq-run-state-v1"}, {"config", to_json(m.config().to_json())},
                    {"where", to_json(where)}, {"layers", to_json(layers)}, {"acts", to_json(acts)},
                    {"errors_before", to_json(errors)}, {"logs", to_json(logs_json(s.logs))}});
}

RunState load_run_state(const std::string& path, QuantModel& m) {
  TensorFile f = load_safetensors(path);
  NWQ_CHECK(f.meta("format") == "nwq-run-state-v1", path, ": not an nwq run state (--state)");
  NWQ_CHECK(f.meta("config") == to_json(m.config().to_json()), path,
            ": the run state was written by another configuration; resume with the same flags "
            "(saved: ", f.meta("config"), ")");
  Json layers = parse_json(f.meta("layers"), path), acts = parse_json(f.meta("acts"), path);
  NWQ_CHECK(layers.size() == m.layers().size() && acts.size() == m.acts().size(), path,
            ": the run state does not match this model's layers");
  for (size_t i = 0; i < m.layers().size(); ++i)
    m.layers()[i].layer->restore_run_state(f, "layer." + m.layers()[i].name + ".", layers[i]);
  for (size_t i = 0; i < m.acts().size(); ++i) {
    ActQuantizer& q = *m.acts()[i].quantizer;
    const std::string p = "act." + m.acts()[i].name;
    q.set_bits(static_cast<int>(acts[i].at("bits").as_int64()));
    q.set_range(f.at(p + ".scale").item(), f.at(p + ".zero_point").item());
    q.state = static_cast<ActQuantizer::State>(acts[i].at("state").as_int64());
  }
  Json where = parse_json(f.meta("where"), path);
  RunState s;
  s.unit = where.at("unit").as_int64();
  s.iter = where.at("iter").as_int64();
  s.batch_rng = rng_from(where.at("batch_rng"));
  s.mix_rng = rng_from(where.at("mix_rng"));
  s.round_steps = where.at("round_steps").as_int64();
  s.act_steps = where.at("act_steps").as_int64();
  for (int64_t i = 0; i < where.at("round_moments").as_int64(); ++i)
    s.round_moments.push_back(f.at(str("opt.round.", i)));
  for (int64_t i = 0; i < where.at("act_moments").as_int64(); ++i)
    s.act_moments.push_back(f.at(str("opt.act.", i)));
  const Json errors = parse_json(f.meta("errors_before"), path);
  for (const Json& e : errors.as_array()) s.errors_before.push_back(e.as_double());
  s.logs = logs_from(parse_json(f.meta("logs"), path));
  return s;
}

}  // namespace nwq
