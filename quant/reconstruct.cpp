// Calibration, the three reconstruction scopes and the per-block error measurement.
#include "quant/reconstruct.h"

#include <algorithm>
#include <cstdio>

#include "autograd/grad_mode.h"
#include "core/error.h"
#include "ops/elementwise.h"
#include "ops/loss.h"
#include "ops/mix.h"
#include "ops/shape.h"
#include "quant/run_state.h"
#include "quant/unit_optimizer.h"

namespace nwq {

namespace {

constexpr int64_t kChunk = 64;  // images per forward when filling caches

// f applied to x in chunks of kChunk rows, without a graph, results concatenated.
Tensor map_chunks(const Tensor& x, const std::function<Tensor(const Tensor&)>& f) {
  NoGradGuard no_grad;
  std::vector<Tensor> parts;
  for (int64_t i = 0; i < x.size(0); i += kChunk)
    parts.push_back(f(x.slice(0, i, std::min(x.size(0), i + kChunk)).contiguous()));
  return parts.size() == 1 ? parts[0] : concat(parts, 0);
}

// The FP network's output of every block for the batch x, in block order: the one place that runs
// the FP network block by block (targets of network scope, --cache-fp, block_errors).
std::vector<Tensor> fp_block_outputs(QuantModel& m, const Tensor& x) {
  NoGradGuard no_grad;
  FloatModeGuard fp(m);
  std::vector<Tensor> outs(m.num_blocks());
  Tensor h = x;
  for (size_t b = 0; b < m.num_blocks(); ++b) outs[b] = h = m.run_block(b, h);
  return outs;
}

// Block b of the FP network applied to its inputs x (every calibration image, in chunks).
Tensor fp_block_output(QuantModel& m, size_t b, const Tensor& x) {
  FloatModeGuard fp(m);
  return map_chunks(x, [&](const Tensor& chunk) { return m.run_block(b, chunk); });
}

std::vector<ActQuantizerPtr> acts_of_block(const QuantModel& m, size_t b) {
  std::vector<ActQuantizerPtr> out;
  for (const auto& a : m.acts())
    if (a.block == b) out.push_back(a.quantizer);
  return out;
}

std::vector<QuantLayerPtr> layers_of_block(const QuantModel& m, size_t b) {
  std::vector<QuantLayerPtr> out;
  for (const auto& e : m.layers())
    if (e.block == b) out.push_back(e.layer);
  return out;
}

void set_drop(const std::vector<ActQuantizerPtr>& acts, double p, Rng* rng) {
  for (auto& a : acts) a->drop_p = p, a->rng = rng;
}

void init_rounding(const std::vector<QuantLayerPtr>& layers, const QuantConfig& c) {
  for (auto& l : layers) l->init_rounding(c.rounding, c.cand_lo, c.cand_hi);
}

const RunState* resume_point(const ReconstructOptions& o) {
  return o.checkpoint ? o.checkpoint->resume : nullptr;
}

// The resume point is inside this unit: its rounding variables come from the run state.
bool resumes_inside(const ReconstructOptions& o, int64_t unit) {
  const RunState* r = resume_point(o);
  return r && unit == r->unit && r->iter > 0;
}

// Runs one unit: its rounding variables start from the weights (unless resuming inside it), the
// loop runs, the rounding is hardened, the log appended, and a checkpoint marks the boundary.
void run_unit(QuantModel& m, const Unit& u, int64_t n, Rng& rng, const ReconstructOptions& o,
              std::vector<UnitLog>& logs) {
  const QuantConfig& c = m.config();
  if (u.learn_rounding && !resumes_inside(o, u.index)) init_rounding(u.layers, c);
  logs.push_back(optimize_unit(u, c, n, rng, o, m, logs));
  if (u.learn_rounding)
    for (auto& l : u.layers) l->harden();
  const Checkpointing* ck = o.checkpoint;
  if (ck && !ck->path.empty()) {
    RunState s;
    s.unit = u.index + 1;
    s.logs = logs;
    s.errors_before = ck->errors_before;
    save_run_state(ck->path, m, s);
    if (ck->after_save) ck->after_save(s);
  }
}

// Layer scope: the layer's output against its FP output, the input from the quantized prefix.
void run_layer_unit(QuantModel& m, const Tensor& calib, const PlannedUnit& p, int64_t number,
                    const ReconstructOptions& o, std::vector<UnitLog>& logs) {
  const QuantConfig& c = m.config();
  const size_t l = p.index;
  const auto& e = m.layers()[l];
  Tensor cap_in, cap_out;
  e.layer->observer = [&](const Tensor& x, const Tensor& y) { cap_in = x, cap_out = y; };
  auto capture_in = [&](const Tensor& x) {
    Tensor h = x;
    for (size_t b = 0; b <= e.block; ++b) h = m.run_block(b, h);
    return cap_in;
  };
  Tensor q_in = map_chunks(calib, capture_in), fp_in, fp_out;
  {
    FloatModeGuard fp(m);
    fp_in = map_chunks(calib, capture_in);
    fp_out = map_chunks(calib, [&](const Tensor& x) { capture_in(x); return cap_out; });
  }
  e.layer->observer = nullptr;
  Rng rng = Rng(c.seed).split(2 * l), mix_rng = Rng(c.seed).split(2 * l + 1);
  Unit u;
  u.name = e.name;
  u.index = number;
  u.mix_rng = &mix_rng;
  u.layers = {e.layer};
  u.iters = c.iters;
  u.rec_loss = [&](const std::vector<int64_t>& idx, double) {
    Tensor x = gather_rows(q_in, idx);
    if (c.mixing == Mixing::QDrop) x = qdrop(x, gather_rows(fp_in, idx), c.drop_p, mix_rng);
    return reconstruction_loss(e.layer->forward(x), gather_rows(fp_out, idx), c.loss_reduce);
  };
  run_unit(m, u, calib.size(0), rng, o, logs);
}

// The quantized and FP inputs of block `at` for every calibration image, advanced block by block
// (each block run once per pass, as the blocks before it stand when it is reached).
struct BlockInputs {
  Tensor q, fp;
  size_t at = 0;
};

void advance_to(QuantModel& m, BlockInputs& in, size_t block) {
  for (; in.at < block; ++in.at) {
    in.q = map_chunks(in.q, [&](const Tensor& x) { return m.run_block(in.at, x); });
    in.fp = fp_block_output(m, in.at, in.fp);
  }
}

// Block scope (and BRECQ's step pass, Kind::Steps): block b's output against the FP block
// output, its input from the quantized prefix (mixed with the FP input by QDrop).
void run_block_unit(QuantModel& m, BlockInputs& in, const PlannedUnit& p, int64_t number,
                    const ReconstructOptions& o, std::vector<UnitLog>& logs) {
  const QuantConfig& c = m.config();
  const size_t b = p.index;
  const bool learn_rounding = p.kind == PlannedUnit::Kind::Block;
  advance_to(m, in, b);
  const Tensor fp_out = fp_block_output(m, b, in.fp);
  Unit u;
  u.name = p.name;
  u.index = number;
  u.layers = layers_of_block(m, b);
  u.acts = acts_of_block(m, b);
  u.learn_rounding = learn_rounding;
  u.learn_acts = learn_rounding ? c.learn_act_steps : true;
  u.iters = learn_rounding ? c.iters : c.iters / 4;
  const uint64_t stream = (learn_rounding ? 0 : 1000000) + 2 * b;
  Rng rng = Rng(c.seed).split(stream), mix_rng = Rng(c.seed).split(stream + 1);
  const bool qdrop_on = c.mixing == Mixing::QDrop;
  u.rec_loss = [&](const std::vector<int64_t>& idx, double) {
    Tensor x = gather_rows(in.q, idx);
    if (qdrop_on && b > 0) x = qdrop(x, gather_rows(in.fp, idx), c.drop_p, mix_rng);
    return reconstruction_loss(m.run_block(b, x), gather_rows(fp_out, idx), c.loss_reduce,
                               learn_rounding ? 2.0 : c.step_pass_lp);
  };
  u.mix_rng = &mix_rng;
  if (qdrop_on) set_drop(u.acts, c.drop_p, &mix_rng);
  run_unit(m, u, in.q.size(0), rng, o, logs);
  set_drop(u.acts, 0, nullptr);
}

// The FP network's block outputs for every calibration image (--cache-fp), after printing how
// much memory they take. Filled chunk by chunk into tensors allocated once.
std::vector<Tensor> cache_fp_block_outputs(QuantModel& m, const Tensor& calib, bool verbose) {
  const int64_t n = calib.size(0);
  std::vector<Tensor> outs;
  int64_t per_image = 0;
  for (const Tensor& y : fp_block_outputs(m, calib.slice(0, 0, 1).contiguous())) {
    Shape shape = y.sizes();
    shape[0] = n;
    outs.push_back(Tensor::empty(shape, y.dtype(), y.device()));
    per_image += y.numel();
  }
  if (verbose)
    std::fprintf(stderr, "caching the FP block outputs of %lld images: %.1f MB on %s\n",
                 (long long)n, double(per_image) * double(n) * 4 / 1e6,
                 calib.device().name().c_str());
  for (int64_t i = 0; i < n; i += kChunk) {
    const int64_t end = std::min(n, i + kChunk);
    const std::vector<Tensor> part = fp_block_outputs(m, calib.slice(0, i, end).contiguous());
    for (size_t b = 0; b < outs.size(); ++b) outs[b].slice(0, i, end).copy_(part[b]);
  }
  return outs;
}

// Network scope: all variables at once; loss = sum over blocks of the block-output errors.
void run_network_unit(QuantModel& m, const Tensor& calib, int64_t number,
                      const ReconstructOptions& o, std::vector<UnitLog>& logs) {
  const QuantConfig& c = m.config();
  Unit u;
  u.name = "network";
  u.index = number;
  for (const auto& e : m.layers()) u.layers.push_back(e.layer);
  for (const auto& a : m.acts()) u.acts.push_back(a.quantizer);
  u.learn_acts = c.learn_act_steps;
  u.iters = c.iters;
  Rng rng = Rng(c.seed).split(0), mix_rng = Rng(c.seed).split(1);
  u.mix_rng = &mix_rng;
  const std::vector<Tensor> cache = c.cache_fp ? cache_fp_block_outputs(m, calib, o.progress)
                                               : std::vector<Tensor>();
  u.rec_loss = [&](const std::vector<int64_t>& idx, double t) {
    Tensor x = gather_rows(calib, idx);
    std::vector<Tensor> fp(m.num_blocks());
    if (!cache.empty()) {
      for (size_t b = 0; b < m.num_blocks(); ++b) fp[b] = gather_rows(cache[b], idx);
    } else {
      fp = fp_block_outputs(m, x);
    }
    const double share = c.mix_start + (c.mix_end - c.mix_start) * t;
    Tensor h = x, loss;
    for (size_t b = 0; b < m.num_blocks(); ++b) {
      Tensor y = m.run_block(b, h);
      Tensor term = reconstruction_loss(y, fp[b], c.loss_reduce);
      loss = loss.defined() ? loss + term : term;
      h = c.mixing == Mixing::AMixup ? amixup(fp[b], y, share) : y;
    }
    return loss;
  };
  if (c.mixing == Mixing::QDrop) set_drop(u.acts, c.drop_p, &mix_rng);
  run_unit(m, u, calib.size(0), rng, o, logs);
  set_drop(u.acts, 0, nullptr);
}

}  // namespace

void calibrate(QuantModel& m, const Tensor& images) {
  NoGradGuard no_grad;
  if (m.config().calib_on == CalibOn::Fp) {  // QDrop: observers watch the FP network
    m.set_layer_modes(QuantLayer::Mode::Float);
    m.set_acts(ActQuantizer::State::Observe);
    m.forward(images);
    m.init_weight_grids();
  } else {  // each quantizer sees the already-quantized network before it
    m.init_weight_grids();
    m.set_acts(ActQuantizer::State::Calibrate);
    m.forward(images);
  }
  for (const auto& a : m.acts())
    NWQ_CHECK(a.quantizer->state == ActQuantizer::State::On, "calibrate: quantizer ", a.name,
              " was not reached by the forward");
}

std::vector<PlannedUnit> plan_units(const QuantModel& m) {
  const QuantConfig& c = m.config();
  std::vector<PlannedUnit> plan;
  using Kind = PlannedUnit::Kind;
  if (c.scope == Scope::Layer)
    for (size_t l = 0; l < m.layers().size(); ++l) plan.push_back({Kind::Layer, l, m.layers()[l].name});
  if (c.scope == Scope::Block && c.iters > 0)
    for (size_t b = 0; b < m.num_blocks(); ++b)
      if (!layers_of_block(m, b).empty()) plan.push_back({Kind::Block, b, "block " + m.block_name(b)});
  if (c.scope == Scope::Network) plan.push_back({Kind::Network, 0, "network"});
  if (c.scope != Scope::None && c.act_steps_afterwards && c.iters / 4 > 0)
    for (size_t b = 0; b < m.num_blocks(); ++b)
      if (!acts_of_block(m, b).empty()) plan.push_back({Kind::Steps, b, "acts " + m.block_name(b)});
  return plan;
}

std::vector<UnitLog> reconstruct(QuantModel& m, const Tensor& calib, const ReconstructOptions& o) {
  const QuantConfig& c = m.config();
  const std::vector<PlannedUnit> plan = plan_units(m);
  std::vector<UnitLog> logs;
  size_t first = 0;
  if (const RunState* r = resume_point(o)) {  // the finished units' logs; states come restored
    logs = r->logs;
    if (r->iter > 0 && !logs.empty()) logs.pop_back();  // the partial log continues in its unit
    first = static_cast<size_t>(r->unit);
  }
  BlockInputs in{calib, calib, 0};
  bool steps_pass = false;
  for (size_t k = first; k < plan.size(); ++k) {
    const PlannedUnit& p = plan[k];
    const bool steps = p.kind == PlannedUnit::Kind::Steps;
    // BRECQ: activation quantization off while the rounding is learned, on for the step pass.
    if (c.act_steps_afterwards) m.set_acts(steps ? ActQuantizer::State::On : ActQuantizer::State::Off);
    if (steps != steps_pass) in = BlockInputs{calib, calib, 0}, steps_pass = steps;
    if (p.kind == PlannedUnit::Kind::Layer) run_layer_unit(m, calib, p, int64_t(k), o, logs);
    if (p.kind == PlannedUnit::Kind::Network) run_network_unit(m, calib, int64_t(k), o, logs);
    if (p.kind == PlannedUnit::Kind::Block || steps) run_block_unit(m, in, p, int64_t(k), o, logs);
  }
  if (c.act_steps_afterwards) m.set_acts(ActQuantizer::State::On);
  return logs;
}

std::vector<double> block_errors(QuantModel& m, const Tensor& images) {
  NoGradGuard no_grad;
  std::vector<double> sum(m.num_blocks(), 0.0);
  for (int64_t i = 0; i < images.size(0); i += kChunk) {
    Tensor x = images.slice(0, i, std::min(images.size(0), i + kChunk)).contiguous();
    std::vector<Tensor> fp = fp_block_outputs(m, x);
    Tensor h = x;
    for (size_t b = 0; b < m.num_blocks(); ++b) {
      h = m.run_block(b, h);
      sum[b] += mse_loss(h, fp[b]).item() * double(x.size(0));
    }
  }
  for (double& s : sum) s /= double(images.size(0));
  return sum;
}

Json unit_logs_to_json(const std::vector<UnitLog>& logs) {
  Json out = Json::array();
  for (const auto& u : logs) {
    Json iters = Json::array(), rec = Json::array(), reg = Json::array();
    for (const auto& s : u.curve) iters.push_back(s.iter), rec.push_back(s.rec), reg.push_back(s.reg);
    out.push_back(Json::object({{"unit", u.name}, {"iters", u.iters}, {"seconds", u.seconds},
                                {"curve_iter", iters}, {"curve_rec", rec}, {"curve_reg", reg}}));
  }
  return out;
}

}  // namespace nwq
