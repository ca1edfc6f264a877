// The whole post-training quantization run as one function: calibration data, FP accuracy,
// preparation, calibration, reconstruction, quantized accuracy, and the JSON report. The CLI's
// `nwq quantize` is a thin layer over it (docs/QUANTIZATION.md).
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "core/json.h"
#include "data/dataset.h"
#include "models/module.h"
#include "quant/quant_model.h"
#include "quant/reconstruct.h"

namespace nwq {

// Top-1 accuracy in percent of `model` on `data`. The caller supplies it, so that quant/ does not
// depend on the training code: the CLI passes trainer.h's top1_evaluator(), whose options (batch,
// device, workers, image limit, progress bar) say how the images are read.
using Top1Function = std::function<double(Module& model, const Dataset& data)>;

struct QuantizeJob {
  ModelPtr model;  // FP weights loaded; becomes part of the result (modified in place)
  std::string model_name, weights, data_name;
  const Dataset* calib_source = nullptr;  // training split, evaluation transform
  const Dataset* test = nullptr;          // may be null: no accuracies
  Top1Function evaluate;                  // must be set when `test` is
  QuantConfig config;
  Device device = Device::cpu();
  int workers = 2;
  bool progress = true;
  bool eval_fp = true;  // also measure the FP top-1 before quantizing
  // Resumable runs: write the run state to state_path every checkpoint_every iterations (and at
  // each unit boundary); with resume, continue from state_path when it exists.
  std::string state_path;
  int64_t checkpoint_every = 1000;
  bool resume = false;
};

struct QuantizeResult {
  std::shared_ptr<QuantModel> model;
  double fp_top1 = -1, quant_top1 = -1;  // percent; -1 when not measured
  Json report;
};

// Calibration images: config.calib distinct images of `source` drawn with config.seed, as one
// [N, C, H, W] tensor on `device` (the loader's order is the draw order).
Tensor load_calibration(const Dataset& source, const QuantConfig& config, Device device, int workers);

QuantizeResult run_quantize(const QuantizeJob& job);

// Peak resident memory of this process in bytes (VmHWM; 0 where /proc is missing).
int64_t peak_host_memory();

}  // namespace nwq
