// Calibration and reconstruction: initial activation ranges, then layer-, block- or network-wise
// optimization of the rounding variables and activation steps with the configured mixing and
// schedules, hardening at the end (docs/DESIGN.md section 7). Also the per-block error measurement.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/json.h"
#include "quant/quant_model.h"

namespace nwq {

// A sampled point of a unit's loss curve.
struct LossSample {
  int64_t iter;
  double rec, reg;  // reconstruction loss, regularizer (weighted by lambda)
};
struct UnitLog {
  std::string name;  // "layer1.0.conv1", "block layer1.0", "network", "acts layer1.0"
  int64_t iters = 0;
  double seconds = 0;
  std::vector<LossSample> curve;
};

struct Checkpointing;

// One unit of a run's reconstruction. The plan lists them in the order they run: the scope's
// units (every layer, every block with layers, or the network), then, for BRECQ, the activation
// step pass over every block with activation quantizers. A unit's number is its position in the
// plan; checkpoints record it and --resume skips the units before it.
struct PlannedUnit {
  enum class Kind { Layer, Block, Network, Steps };
  Kind kind;
  size_t index;  // the layer (Layer) or block (Block, Steps) index; 0 for Network
  std::string name;
};
std::vector<PlannedUnit> plan_units(const QuantModel& model);

struct ReconstructOptions {
  bool progress = true;
  int64_t curve_points = 100;  // samples per unit curve
  const Checkpointing* checkpoint = nullptr;  // periodic run state and resume point (run_state.h)
};

// Weight grids (the observer on each folded weight), nearest codes, and activation ranges from
// one forward of `images`: through the full-precision network (calib_on fp, QDrop's
// main_imagenet.py) or with every quantizer in Calibrate state, each seeing the already-quantized
// network before it (calib_on quantized). Afterwards every quantizer is On, every layer Nearest.
void calibrate(QuantModel& model, const Tensor& images);

// Runs the plan's units on the calibration images (already on the model's device); each unit's
// rounding is hardened when its optimization ends. Scope none does nothing. Throws naming the
// iteration and unit when a loss is NaN or Inf.
std::vector<UnitLog> reconstruct(QuantModel& model, const Tensor& calib,
                                 const ReconstructOptions& options);

// Mean squared error per element between the quantized network's and the FP network's block
// outputs, per block, on `images` (in chunks; no mixing).
std::vector<double> block_errors(QuantModel& model, const Tensor& images);

Json unit_logs_to_json(const std::vector<UnitLog>& logs);

}  // namespace nwq
