// Activation quantizers: ActQuantizer (per-tensor asymmetric fake quantization with a learnable
// step) and QuantAct, which wraps a ReLU/ReLU6 module and quantizes each of its uses separately.
#pragma once
#include <deque>
#include <memory>
#include <vector>

#include "core/rng.h"
#include "models/module.h"
#include "quant/range_search.h"

namespace nwq {

class ActQuantizer : public Module {
 public:
  enum class State {
    Off,        // passes x through (the FP model)
    Calibrate,  // the next call sets the range by the observer on its input, then turns On
    Observe,    // as Calibrate, but that call passes its input through unquantized (QDrop's
                // calibration on the full-precision network)
    On,
  };
  // lp, observer: the range search; lsq_grad_scale: the scale's gradient is multiplied by
  // 1 / sqrt(numel(x) * qmax) (LSQ, as QDrop), else by 1.
  explicit ActQuantizer(int bits, double lp = 2.4, Observer observer = Observer::Mse,
                        bool lsq_grad_scale = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ActQuantizer"; }
  std::string extra_repr() const override;

  int bits() const { return bits_; }
  void set_bits(int bits) { bits_ = bits; }
  int64_t qmax() const { return (int64_t{1} << bits_) - 1; }
  // Sets scale and zero point (their devices are kept).
  void set_range(double scale, double zero_point);
  // The learned step becomes max(|step|, FLT_EPSILON), as QDrop's LSQFakeQuantize does before
  // every quantizing forward (qdrop/quantization/fake_quant.py): a step that a large update pushed
  // through zero is mirrored, never used negative. forward() calls it; the gradient is unaffected.
  void keep_step_positive();

  State state = State::Off;
  // During reconstruction only: QDrop keeps the unquantized value element-wise with probability
  // drop_p, drawing from *rng (both set and cleared by the caller).
  double drop_p = 0.0;
  Rng* rng = nullptr;
  std::string label;  // its place in the model ("layer1.0:out"), for error messages

  Tensor scale;       // [1], a parameter (the LSQ step)
  Tensor zero_point;  // [1], integer-valued, a buffer

 private:
  int bits_;
  double lp_;
  Observer observer_;
  bool lsq_grad_scale_;
};
using ActQuantizerPtr = std::shared_ptr<ActQuantizer>;

// Replaces an activation module. Use i of a forward (the i-th call since reset_calls(), modulo
// the number of uses) is quantized by quantizer(i), or passed through when that is null (a use
// whose output is the block output: the block-output quantizer covers it).
class QuantAct : public Module {
 public:
  QuantAct(ModulePtr act, const std::vector<ActQuantizerPtr>& per_use);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "QuantAct"; }
  void reset_calls() { calls_ = 0; }
  size_t uses() const { return per_use_.size(); }
  ActQuantizerPtr quantizer(size_t use) const { return per_use_[use]; }

 private:
  ModulePtr act_;
  std::vector<ActQuantizerPtr> per_use_;
  std::deque<ModulePtr> slots_;  // the non-null quantizers, registered as use0, use1, ...
  size_t calls_ = 0;
};

}  // namespace nwq
