// The configuration of one quantization run: bit widths, the three method axes (scope, rounding,
// mixing), schedules and learning rates, with the presets rtn/adaround/brecq/qdrop/nwq
// (docs/DESIGN.md section 7).
// Every field is a CLI flag of `nwq quantize`; to_json() is what reports and exported files record.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/json.h"
#include "quant/range_search.h"

namespace nwq {

enum class Scope { None, Layer, Block, Network };
enum class Rounding { Nearest, AdaRound, ASoftmax };
enum class Mixing { None, QDrop, AMixup };
// Where activation ranges are first set: on the full-precision network (QDrop's calibration: every
// fake quantizer off while the observers watch) or on the already-quantized prefix (nwq before).
enum class CalibOn { Fp, Quantized };
// Reconstruction loss reduction: channel = BRECQ/QDrop's lp_loss, (pred - tgt)^2 summed over
// channels (dim 1) and averaged over the batch and spatial positions; sample = summed over all of
// a sample's elements and averaged over the batch (nwq before).
enum class LossReduce { Channel, Sample };

struct QuantConfig {
  std::string method = "nwq";  // the preset the axes came from ("custom" when overridden)
  int wbits = 4, abits = 4;
  Scope scope = Scope::Network;
  Rounding rounding = Rounding::ASoftmax;
  Mixing mixing = Mixing::AMixup;
  bool learn_act_steps = true;        // activation steps are optimized with the rounding
  bool act_steps_afterwards = false;  // BRECQ: a second pass learns activation steps only

  // Placement switches (docs/DESIGN.md section 7).
  bool first_layer_8bit = true, last_layer_8bit = true, last_act_8bit = true;

  // Data and optimization.
  int64_t calib = 1024;       // calibration images from the training split
  int64_t init_images = 256;  // of those, how many initialise the activation ranges
  int64_t iters = 20000;      // per unit (layer / block) or for the whole network
  int64_t batch = 32;
  double lr_round = 1e-3;     // Adam, rounding variables
  double lr_act = 4e-5;       // Adam with cosine decay, activation steps
  double lp = 2.4;            // exponent of the range search's error
  Observer observer = Observer::Mse;  // initial ranges: QDrop's MSEObserver, or shrink
  CalibOn calib_on = CalibOn::Fp;
  LossReduce loss_reduce = LossReduce::Channel;
  // BRECQ's activation (step) pass: exponent of its reconstruction loss, lp_loss(.., p) with
  // main_imagenet.py's --p 2.4; the rounding passes use 2 (block_reconstruction's default).
  double step_pass_lp = 2.4;
  // LSQ's gradient scale for activation steps, 1 / sqrt(numel(x) * qmax) as QDrop's
  // LSQFakeQuantize (use_grad_scaling); false: 1 (nwq before).
  bool act_grad_scale = true;

  // AdaRound.
  double lambda = 0.01;  // regularizer weight
  double beta_start = 20, beta_end = 2, warmup = 0.2;  // beta annealed after `warmup` of iters
  // ASoftmax: candidates cand_lo..cand_hi, temperature annealed linearly tau_start -> tau_end.
  int cand_lo = 0, cand_hi = 1;
  double tau_start = 1.0, tau_end = 0.01;
  // Mixing: QDrop's probability of the unquantized value; AMixup's FP share start -> end.
  double drop_p = 0.5;
  double mix_start = 0.5, mix_end = 0.0;

  // Network scope: keep the FP block outputs of all calibration images instead of recomputing
  // them each iteration (faster; memory: images x sum of block output sizes x 4 bytes).
  bool cache_fp = false;

  uint64_t seed = 0;

  Json to_json() const;
  static QuantConfig from_json(const Json& json);  // throws naming a missing or bad field
};

// The preset's axes and defaults: rtn, adaround, brecq, qdrop or nwq; lambda follows the model
// (0.1 for MobileNetV2 models, as in the public BRECQ/QDrop setups). Throws listing the presets.
QuantConfig preset_config(const std::string& method, const std::string& model_name);
const std::vector<std::string>& preset_names();

std::string to_string(Scope s);
std::string to_string(Rounding r);
std::string to_string(Mixing m);
std::string to_string(CalibOn c);
std::string to_string(LossReduce r);
Scope parse_scope(const std::string& text, const std::string& flag);
Rounding parse_rounding(const std::string& text, const std::string& flag);
Mixing parse_mixing(const std::string& text, const std::string& flag);
CalibOn parse_calib_on(const std::string& text, const std::string& flag);
LossReduce parse_loss_reduce(const std::string& text, const std::string& flag);

// Throws naming the field when a value is out of range (bits outside 2..8, iters < 0, ...).
void validate(const QuantConfig& config);

// The conventions, one per line, for the start of every run and the report.
std::string describe_conventions(const QuantConfig& config);

}  // namespace nwq
