// The quantization run: data, preparation, calibration, reconstruction, evaluation and report.
#include "quant/pipeline.h"

#include <chrono>
#include <cstdio>
#include <fstream>

#include "core/allocator.h"
#include "core/error.h"
#include "data/calibration.h"
#include "data/loader.h"
#include "quant/run_state.h"

namespace nwq {

namespace {

bool file_exists(const std::string& path) { return std::ifstream(path).good(); }

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A Dataset view that does not own its base (SubsetDataset wants shared ownership).
std::shared_ptr<const Dataset> borrow(const Dataset& d) {
  return std::shared_ptr<const Dataset>(&d, [](const Dataset*) {});
}

double eval_top1(Module& m, const QuantizeJob& job, const char* label) {
  if (job.progress) std::fprintf(stderr, "%s\n", label);
  return job.evaluate(m, *job.test);
}

Json errors_json(const QuantModel& m, const std::vector<double>& before,
                 const std::vector<double>& after) {
  Json out = Json::array();
  for (size_t b = 0; b < m.num_blocks(); ++b)
    out.push_back(Json::object({{"block", m.block_name(b)}, {"before", before[b]}, {"after", after[b]}}));
  return out;
}

Json layers_json(const QuantModel& m) {
  Json out = Json::array();
  for (const auto& e : m.layers())
    out.push_back(Json::object({{"layer", e.name}, {"bn", e.bn}, {"bits", e.layer->bits()},
                                {"away_from_nearest", e.layer->share_away_from_nearest()},
                                {"hardening_gap", e.layer->hardening_gap()}}));
  return out;
}

Json acts_json(const QuantModel& m) {
  Json out = Json::array();
  for (const auto& a : m.acts())
    out.push_back(Json::object({{"name", a.name}, {"bits", a.quantizer->bits()},
                                {"scale", a.quantizer->scale.item()},
                                {"zero_point", a.quantizer->zero_point.item()}}));
  return out;
}

}  // namespace

int64_t peak_host_memory() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  return 0;
}

Tensor load_calibration(const Dataset& source, const QuantConfig& c, Device device, int workers) {
  NWQ_CHECK(c.calib <= source.size(), "--calib: ", c.calib, " images asked for, but the training split has ",
            source.size());
  auto subset = calibration_subset(borrow(source), c.calib, c.seed);
  LoaderOptions lo;
  lo.batch_size = 256;
  lo.workers = workers;
  DataLoader loader(*subset, lo);
  Shape shape = {c.calib};
  for (int64_t d : source.sample_shape()) shape.push_back(d);
  Tensor all = Tensor::empty(shape, DType::F32, device);
  int64_t at = 0;
  loader.for_each_batch(0, [&](const Batch& batch, int64_t) {
    const int64_t n = batch.images.size(0);
    all.slice(0, at, at + n).copy_(batch.images);
    at += n;
  });
  return all;
}

QuantizeResult run_quantize(const QuantizeJob& job) {
  const QuantConfig& c = job.config;
  validate(c);
  NWQ_CHECK(job.model && job.calib_source, "run_quantize: a model and calibration data are needed");
  NWQ_CHECK(!job.test || job.evaluate,
            "run_quantize: a test split is given but QuantizeJob::evaluate is not set (set it to "
            "a top-1 function such as top1_evaluator(), or leave `test` null for no accuracies)");
  QuantizeResult result;
  Json timing = Json::object();
  const auto start = std::chrono::steady_clock::now();
  auto t0 = start;
  Tensor calib = load_calibration(*job.calib_source, c, job.device, job.workers);
  timing.set("calibration_data", seconds_since(t0));
  if (job.test && job.eval_fp) result.fp_top1 = eval_top1(*job.model, job, "FP evaluation");
  t0 = std::chrono::steady_clock::now();
  result.model = std::make_shared<QuantModel>(job.model, calib.slice(0, 0, std::min<int64_t>(2, c.calib)), c);
  QuantModel& qm = *result.model;
  const Tensor probe = calib.slice(0, 0, std::min<int64_t>(256, c.calib));
  Checkpointing ck;
  ck.path = job.state_path;
  ck.every = std::max<int64_t>(1, job.checkpoint_every);
  RunState resume;
  std::vector<double> before;
  if (job.resume && file_exists(job.state_path)) {
    resume = load_run_state(job.state_path, qm);
    ck.resume = &resume;
    before = resume.errors_before;
    // Printed even with --quiet: the timings of a resumed run cover only its own part.
    std::fprintf(stderr, "resuming %s at unit %lld, iteration %lld\n", job.state_path.c_str(),
                 (long long)resume.unit, (long long)resume.iter);
  } else {
    calibrate(qm, calib.slice(0, 0, std::min(c.init_images, c.calib)));
    before = block_errors(qm, probe);
  }
  ck.errors_before = before;
  timing.set("calibrate", seconds_since(t0));
  t0 = std::chrono::steady_clock::now();
  ReconstructOptions ro;
  ro.progress = job.progress;
  if (!ck.path.empty()) ro.checkpoint = &ck;
  std::vector<UnitLog> logs = reconstruct(qm, calib, ro);
  timing.set("reconstruct", seconds_since(t0));
  std::vector<double> after = block_errors(qm, probe);
  t0 = std::chrono::steady_clock::now();
  if (job.test) result.quant_top1 = eval_top1(qm, job, "quantized evaluation");
  timing.set("evaluate", seconds_since(t0));
  timing.set("total", seconds_since(start));

  Json r = Json::object({{"model", job.model_name}, {"weights", job.weights}, {"data", job.data_name}});
  r.set("config", c.to_json());
  r.set("device", job.device.name());
  r.set("fp_top1", result.fp_top1);
  r.set("quant_top1", result.quant_top1);
  r.set("timing_seconds", timing);
  if (ck.resume) {  // the timings above cover only the part after this point
    r.set("resumed_at", Json::object({{"unit", ck.resume->unit}, {"iteration", ck.resume->iter}}));
  }
  r.set("peak_host_bytes", peak_host_memory());
  const bool gpu = !job.device.is_cpu() && cuda_backend().memory_stats;
  r.set("peak_device_bytes", gpu ? int64_t(cuda_backend().memory_stats().peak) : int64_t{0});
  r.set("block_errors", errors_json(qm, before, after));
  r.set("layers", layers_json(qm));
  r.set("activations", acts_json(qm));
  r.set("units", unit_logs_to_json(logs));
  result.report = r;
  return result;
}

}  // namespace nwq
