// The reconstruction optimization loop of one unit (a layer, a block, or the whole network).
#include "quant/unit_optimizer.h"

#include <algorithm>
#include <cmath>

#include "autograd/engine.h"
#include "core/error.h"
#include "core/progress.h"
#include "ops/elementwise.h"
#include "ops/loss.h"
#include "ops/reduce.h"
#include "optim/optimizer.h"
#include "quant/run_state.h"

namespace nwq {

Tensor reconstruction_loss(const Tensor& a, const Tensor& b, LossReduce reduce, double p) {
  const double per_mean = reduce == LossReduce::Channel ? double(a.size(1))
                                                        : double(a.numel()) / double(a.size(0));
  if (p == 2) return mse_loss(a, b) * per_mean;
  return sum(pow(abs(a - b), p)) * (per_mean / double(a.numel()));
}

double adaround_beta(const QuantConfig& c, int64_t it, int64_t iters) {
  const double count = double(it + 1), start = c.warmup * double(iters);
  if (count < start) return 0;
  const double rel = (count - start) / (double(iters) - start);
  return c.beta_end + (c.beta_start - c.beta_end) * std::max(0.0, 1 - rel);
}

Tensor gather_rows(const Tensor& x, const std::vector<int64_t>& idx) {
  Shape shape = x.sizes();
  shape[0] = static_cast<int64_t>(idx.size());
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  for (size_t k = 0; k < idx.size(); ++k)
    out.slice(0, int64_t(k), int64_t(k) + 1).copy_(x.slice(0, idx[k], idx[k] + 1));
  return out;
}

namespace {

// config.batch distinct indices below n (all of them, shuffled, when n <= batch).
std::vector<int64_t> draw_batch(Rng& rng, int64_t n, int64_t batch) {
  std::vector<int64_t> order = rng.permutation(n);
  order.resize(static_cast<size_t>(std::min(n, batch)));
  return order;
}

}  // namespace

namespace {

void restore(Optimizer& opt, const std::vector<Tensor>& moments, int64_t steps) {
  std::vector<Tensor> mine = opt.state();
  NWQ_CHECK(mine.size() == moments.size(), "--resume: the run state has ", moments.size(),
            " optimizer moments, this run ", mine.size());
  for (size_t i = 0; i < mine.size(); ++i) mine[i].copy_(moments[i]);
  opt.set_steps(steps);
}

std::vector<Tensor> copies(const std::vector<Tensor>& ts) {
  std::vector<Tensor> out;
  for (const auto& t : ts) out.push_back(t.clone());
  return out;
}

}  // namespace

UnitLog optimize_unit(const Unit& unit, const QuantConfig& c, int64_t num_samples, Rng& rng,
                      const ReconstructOptions& options, const QuantModel& model,
                      const std::vector<UnitLog>& done) {
  UnitLog log;
  log.name = unit.name;
  log.iters = unit.iters;
  std::vector<Tensor> vs, steps;
  if (unit.learn_rounding)
    for (auto& l : unit.layers) vs.push_back(l->round_v);
  if (unit.learn_acts)
    for (auto& a : unit.acts) steps.push_back(a->scale);
  AdamOptions ar, aa;
  ar.lr = c.lr_round;
  aa.lr = c.lr_act;
  Adam opt_round(vs, ar), opt_act(steps, aa);
  const bool adaround = unit.learn_rounding && c.rounding == Rounding::AdaRound;
  const int64_t every = std::max<int64_t>(1, unit.iters / std::max<int64_t>(1, options.curve_points));
  const Checkpointing* ck = options.checkpoint;
  int64_t start = 0;
  if (ck && ck->resume && ck->resume->unit == unit.index && ck->resume->iter > 0) {
    const RunState& r = *ck->resume;
    restore(opt_round, r.round_moments, r.round_steps);
    restore(opt_act, r.act_moments, r.act_steps);
    rng.set_state(r.batch_rng);
    if (unit.mix_rng) unit.mix_rng->set_state(r.mix_rng);
    start = r.iter;
    if (!r.logs.empty()) log.curve = r.logs.back().curve;
  }
  auto save = [&](int64_t next_iter) {
    RunState s;
    s.unit = unit.index, s.iter = next_iter;
    s.batch_rng = rng.state();
    if (unit.mix_rng) s.mix_rng = unit.mix_rng->state();
    s.round_moments = copies(opt_round.state()), s.act_moments = copies(opt_act.state());
    s.round_steps = opt_round.steps(), s.act_steps = opt_act.steps();
    s.logs = done;
    s.logs.push_back(log);
    s.errors_before = ck->errors_before;
    save_run_state(ck->path, model, s);
    if (ck->after_save) ck->after_save(s);
  };
  ProgressBar bar(unit.name, unit.iters, options.progress);
  for (int64_t it = start; it < unit.iters; ++it) {
    const double t = double(it) / double(unit.iters);
    const double tau = c.tau_start + (c.tau_end - c.tau_start) * t;
    for (auto& l : unit.layers) l->tau = tau;
    Tensor loss = unit.rec_loss(draw_batch(rng, num_samples, c.batch), t);
    const double rec = loss.item();
    double reg = 0;
    const double beta = adaround ? adaround_beta(c, it, unit.iters) : 0;
    if (beta > 0 && c.lambda > 0) {
      Tensor r;
      for (auto& l : unit.layers) r = r.defined() ? r + l->regularizer(beta) : l->regularizer(beta);
      r = r * c.lambda;
      reg = r.item();
      loss = loss + r;
    }
    if (!std::isfinite(rec) || !std::isfinite(reg))
      throw Error(str("reconstruction of ", unit.name, ": the loss is ", rec + reg, " at iteration ",
                      it + 1, " of ", unit.iters, " (reconstruction ", rec, ", regularizer ", reg,
                      ")"));
    opt_round.zero_grad();
    opt_act.zero_grad();
    backward(loss);
    if (!vs.empty()) opt_round.step();
    if (!steps.empty()) {
      opt_act.set_lr(c.lr_act * 0.5 * (1 + std::cos(M_PI * t)));
      opt_act.step();
    }
    if (it % every == 0 || it + 1 == unit.iters) log.curve.push_back({it, rec, reg});
    if (ck && !ck->path.empty() && (it + 1) % ck->every == 0 && it + 1 < unit.iters) save(it + 1);
    bar.update(it + 1, str("rec ", rec, adaround ? str(" reg ", reg) : std::string(),
                           c.rounding == Rounding::ASoftmax ? str(" tau ", tau) : std::string()));
  }
  bar.finish();
  log.seconds = bar.elapsed_seconds();
  return log;
}

}  // namespace nwq
