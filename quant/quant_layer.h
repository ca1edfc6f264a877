// QuantLayer: a Conv2d or Linear (with the BatchNorm that follows it folded in) whose weights are
// quantized per output channel, rounded to nearest, softly (AdaRound / ASoftmax) or hardened.
// In Float mode it runs the original modules, so the wrapped model equals the FP model bit for bit.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "core/json.h"
#include "models/module.h"
#include "quant/config.h"

namespace nwq {

class QuantLayer : public Module {
 public:
  enum class Mode {
    Float,    // the original layer (and BN): bit-identical to the FP model
    Nearest,  // folded weights on the grid, round to nearest (fixed codes)
    Soft,     // soft rounding by the rounding variables (reconstruction)
    Hard,     // the hardened codes
  };
  // layer: Conv2d or Linear; bn: the BatchNorm2d fed by it, or null. Folds in double on the CPU:
  // w' = w * g / sqrt(var + eps), b' = (b - mean) * g / sqrt(var + eps) + beta.
  QuantLayer(ModulePtr layer, ModulePtr bn);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "QuantLayer"; }
  std::string extra_repr() const override;

  // Sets bits, the per-channel grid by the observer on the folded weight, and the nearest
  // codes; mode becomes Nearest.
  void init_grid(int bits, double lp, Observer observer = Observer::Mse);
  // Creates the rounding variables for rounding (AdaRound V, or ASoftmax logits over the
  // candidates lo..hi) so that the soft weight starts at the folded weight; mode becomes Soft.
  void init_rounding(Rounding rounding, int cand_lo, int cand_hi);
  // Codes from the rounding variables (V >= 0, argmax); mode becomes Hard; drops the variables.
  void harden();
  // AdaRound's regularizer sum(1 - |2h(V) - 1|^beta) (a scalar tensor); ASoftmax has none.
  Tensor regularizer(double beta) const;
  // Sets the codes (integer values in [0, 2^bits - 1], the weight's shape) and the grid directly
  // (loading a quantized file); mode becomes Hard.
  void set_codes(int bits, const Tensor& codes, const Tensor& scale, const Tensor& zero_point);

  // Resumable runs: what calibration and reconstruction change (grid, codes, rounding variables,
  // mode, bits, temperature), saved as tensors named prefix + field and a JSON object.
  void save_run_state(const std::string& prefix, NamedTensors& tensors, Json& meta) const;
  void restore_run_state(const TensorFile& file, const std::string& prefix, const Json& meta);

  Mode mode() const { return mode_; }
  void set_mode(Mode mode);  // Nearest/Hard need their codes, Soft the rounding variables
  int bits() const { return bits_; }
  void set_bits(int bits) { bits_ = bits; }
  int64_t qmax() const { return (int64_t{1} << bits_) - 1; }
  Rounding rounding() const { return rounding_; }
  bool is_conv() const { return is_conv_; }
  // The share of weights whose code differs from the nearest code (after harden()).
  double share_away_from_nearest() const { return away_share_; }
  // How far hardening moved the weights: the mean |soft code - hardened code| in grid steps, taken
  // by harden() (0 when never hardened). Near 0: the rounding variables had decided; near 0.5: many
  // weights were still between two grid points and hardening changed the network noticeably.
  double hardening_gap() const { return hardening_gap_; }

  Tensor weight, bias;      // folded, FP (buffers)
  Tensor scale, zero_point; // [out] per channel
  Tensor codes;             // integer-valued F32, the weight's shape (Nearest/Hard)
  Tensor round_v;           // AdaRound V (weight shape) / ASoftmax logits [K, ...] (parameter)
  double tau = 1.0;         // ASoftmax temperature
  // When set, forward calls it with (input, output): how reconstruction captures layer data.
  std::function<void(const Tensor&, const Tensor&)> observer;

 private:
  Tensor apply(const Tensor& x, const Tensor& w) const;
  Tensor soft_weight() const;  // the weight that Soft mode uses
  void refresh_weight_q();  // weight_q_ = (codes - z) * s
  ModulePtr layer_, bn_;
  bool is_conv_;
  Mode mode_ = Mode::Float;
  Rounding rounding_ = Rounding::Nearest;
  int bits_ = 8;
  int cand_lo_ = 0;
  double away_share_ = 0;
  double hardening_gap_ = 0;
  Tensor w_floor_;   // floor(weight / scale)
  Tensor nearest_;   // nearest codes, for the away-from-nearest share
  Tensor weight_q_;  // the dequantized codes
};
using QuantLayerPtr = std::shared_ptr<QuantLayer>;

// (codes - zero_point) * scale per output channel, in double then rounded to F32: the one
// function both the quantization run and a reloaded file use, so their weights agree bit for bit.
Tensor dequantize_codes(const Tensor& codes, const Tensor& scale, const Tensor& zero_point);

}  // namespace nwq
