// Resumable quantization runs (`nwq quantize --state FILE --resume`): every K iterations the run
// writes where it is — the quantizer variables, the optimizer moments, the RNG states, the unit and
// iteration — atomically (temporary file, then rename), and a resumed run continues from there.
#pragma once
#include <array>
#include <functional>
#include <cstdint>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/rng.h"
#include "quant/quant_model.h"
#include "quant/reconstruct.h"

namespace nwq {

// Where a run stands. unit is a position in the run's unit plan (plan_units: layers, blocks or
// the network, then BRECQ's activation passes); iter is the next iteration of that unit.
struct RunState {
  int64_t unit = 0, iter = 0;
  std::array<uint64_t, 4> batch_rng{}, mix_rng{};
  std::vector<Tensor> round_moments, act_moments;  // Adam m then v of each optimizer
  int64_t round_steps = 0, act_steps = 0;
  std::vector<UnitLog> logs;         // finished units, then the current unit's partial log
  std::vector<double> errors_before;  // block errors after calibration (for the report)
};

// Writes the model's quantizer state and `state` to path atomically; `config` must match on resume.
void save_run_state(const std::string& path, const QuantModel& model, const RunState& state);

// Restores the model's quantizer state from path and returns the RunState. Throws naming the
// file when its configuration differs from the model's (a resumed run must be the same run).
RunState load_run_state(const std::string& path, QuantModel& model);

// What reconstruct() needs for checkpoints and resuming (both optional).
struct Checkpointing {
  std::string path;     // empty: no checkpoints
  int64_t every = 1000;  // iterations between checkpoints
  const RunState* resume = nullptr;  // continue from here
  std::vector<double> errors_before;  // stored with every checkpoint
  // Called after every checkpoint with the RunState written (its unit and iteration); tests use
  // it to stop a run there, as a kill would.
  std::function<void(const RunState&)> after_save;
};

}  // namespace nwq
