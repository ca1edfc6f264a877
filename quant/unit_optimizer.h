// The optimization loop shared by every reconstruction scope: Adam on the rounding variables and
// (cosine-decayed) on the activation steps, the beta / tau schedules, random calibration batches,
// NaN checks, a progress bar and a sampled loss curve. Hardening is the caller's next step.
#pragma once
#include <functional>
#include <vector>

#include "core/rng.h"
#include "quant/reconstruct.h"

namespace nwq {

struct Unit {
  std::string name;
  int64_t index = 0;      // position among the run's units (for checkpoints and --resume)
  Rng* mix_rng = nullptr;  // the stream QDrop draws from (saved in checkpoints), or null
  std::vector<QuantLayerPtr> layers;    // rounding variables learned (when learn_rounding)
  std::vector<ActQuantizerPtr> acts;    // steps learned (when learn_acts)
  bool learn_rounding = true, learn_acts = false;
  int64_t iters = 0;
  // The reconstruction loss for the batch `idx` at progress t = iter / iters (builds a graph).
  std::function<Tensor(const std::vector<int64_t>& idx, double t)> rec_loss;
};

// Runs the loop; rng draws the batches (config.batch distinct indices of num_samples per iter).
// With options.checkpoint, writes the run state every `every` iterations (done: the logs of
// the units before this one) and, when the checkpoint's resume point is this unit, continues
// from its iteration with its optimizer moments and RNG states.
UnitLog optimize_unit(const Unit& unit, const QuantConfig& config, int64_t num_samples, Rng& rng,
                      const ReconstructOptions& options, const QuantModel& model,
                      const std::vector<UnitLog>& done);

// The reconstruction loss between a quantized output a and its FP target b ([N, C, ...]):
// channel: BRECQ/QDrop's lp_loss with p = 2, (a - b)^2 summed over dim 1 and averaged over the
// batch and the spatial positions (= sum / (N * H * W)); sample: summed over each sample's
// elements and averaged over the batch (= sum / N). p != 2: |a - b|^p in place of the square, as
// BRECQ's lp_loss(pred, tgt, p) (its activation pass uses p = 2.4).
Tensor reconstruction_loss(const Tensor& a, const Tensor& b, LossReduce reduce, double p = 2);

// AdaRound's beta at iteration it (0-based) of iters, as BRECQ/QDrop's LossFunction counts
// (count = it + 1): 0 (no regularizer) while count < warmup * iters, then linear from beta_start
// to beta_end.
double adaround_beta(const QuantConfig& config, int64_t it, int64_t iters);

// Rows idx of x (dim 0), a plain copy on x's device.
Tensor gather_rows(const Tensor& x, const std::vector<int64_t>& idx);

}  // namespace nwq
