// `nwq quantize`: post-training quantization of a trained model by one of the presets (rtn,
// adaround, brecq, qdrop, nwq) or any scope x rounding x mixing combination; prints the resolved
// configuration, progress and FP / quantized top-1; writes the quantized model and a JSON report.
#include <cmath>
#include <cstdio>

#include "core/file_util.h"
#include "core/tensor_io.h"
#include "core/torch_checkpoint.h"
#include "quant/export.h"
#include "quant/pipeline.h"
#include "train/trainer.h"
#include "tools/lib/cli_common.h"
#include "tools/lib/commands.h"

namespace nwq {

namespace {

void declare_flags(ArgParser& a) {
  a.add("--model", "NAME", "", "model name (default: the weights' metadata)");
  a.add("--weights", "FILE", "", "FP weights to quantize (safetensors or torch.save .pth)");
  add_data_flags(a, true);
  a.add("--method", "M", "nwq", "preset: rtn, adaround, brecq, qdrop or nwq");
  a.add("--wbits", "B", "4", "weight bits (2..8)");
  a.add("--abits", "B", "4", "activation bits (2..8)");
  a.add("--scope", "S", "", "reconstruction scope: none, layer, block or network (default: the method's)");
  a.add("--rounding", "R", "", "rounding: nearest, adaround or asoftmax (default: the method's)");
  a.add("--mix", "M", "", "activation mixing: none, qdrop or amixup (default: the method's)");
  a.add("--iters", "N", "20000", "iterations per unit (layer/block) or for the network");
  a.add("--calib", "N", "1024", "calibration images drawn from the training split");
  a.add("--init-images", "N", "256", "calibration images that initialise activation ranges");
  a.add("--batch", "N", "32", "reconstruction batch size");
  a.add("--lr-round", "X", "1e-3", "Adam learning rate of the rounding variables");
  a.add("--lr-act", "X", "", "Adam learning rate of the activation steps, cosine decay (default "
        "4e-5; brecq's step pass 4e-4, as BRECQ's main_imagenet.py)");
  a.add("--learn-act-steps", "yes|no", "", "learn activation steps with the rounding (default: the method's)");
  a.add("--lambda", "X", "", "AdaRound regularizer weight (default 0.01; 0.1 for MobileNetV2)");
  a.add("--beta", "START:END", "20:2", "AdaRound beta annealing");
  a.add("--warmup", "X", "0.2", "share of iterations before the AdaRound regularizer starts");
  a.add("--candidates", "LO:HI", "0:1", "ASoftmax rounding candidates (offsets from floor)");
  a.add("--tau", "START:END", "1:0.01", "ASoftmax temperature, annealed linearly");
  a.add("--drop-p", "X", "0.5", "QDrop: probability of keeping the unquantized value");
  a.add("--mix-share", "START:END", "0.5:0", "AMixup: FP share of block inputs, annealed linearly");
  a.add("--lp", "P", "2.4", "exponent of the range search's error |x - q(x)|^P");
  a.add("--observer", "O", "mse", "initial ranges: mse (QDrop's MSEObserver: 100 ranges x every "
        "zero point) or shrink (nwq's earlier shrinking search)");
  a.add("--calib-on", "C", "fp", "activation ranges observed on the fp network (QDrop) or on the "
        "quantized prefix");
  a.add("--loss-reduce", "R", "channel", "reconstruction loss: channel (summed over channels, "
        "averaged over batch and positions: BRECQ/QDrop) or sample (summed over each sample)");
  a.add("--step-pass-p", "P", "2.4", "BRECQ's activation step pass: exponent of its "
        "reconstruction loss |a - b|^P summed over channels (main_imagenet.py --p; 2: the "
        "rounding pass's squared error)");
  a.add("--act-grad-scale", "G", "lsq", "activation step gradient scale: lsq (1/sqrt(numel*qmax), "
        "QDrop) or none");
  a.add_switch("--cache-fp", "network scope: cache the FP block outputs of all calibration images "
               "(faster; prints the memory it takes) instead of recomputing them each iteration");
  a.add_switch("--no-8bit-first", "quantize the first layer's weights to --wbits too");
  a.add_switch("--no-8bit-last", "quantize the last layer's weights to --wbits too");
  a.add_switch("--no-8bit-last-input", "quantize the last layer's input to --abits too");
  a.add("--seed", "N", "0", "seed of the calibration draw, batches and mixing");
  add_device_flags(a);
  add_loading_flags(a);
  a.add("--eval-limit", "N", "-1", "evaluate on only the first N test images (-1: all)");
  a.add_switch("--no-fp-eval", "skip the FP accuracy measurement");
  a.add("--out", "FILE", "", "save the quantized model here (safetensors, packed codes)");
  a.add("--report", "FILE", "", "write the JSON report here");
  a.add("--state", "FILE", "", "write the resumable run state here (atomically, see --checkpoint-every)");
  a.add("--checkpoint-every", "N", "1000", "iterations between run-state writes (with --state)");
  a.add_switch("--resume", "continue the run saved in --state FILE (same flags), if it exists");
  add_output_switches(a);
}

// "A:B" as two numbers; the error names the flag.
std::pair<double, double> pair_flag(const ArgParser& a, const std::string& flag) {
  const std::string v = a.get(flag);
  const size_t colon = v.find(':');
  try {
    NWQ_CHECK(colon != std::string::npos, "");
    size_t used1 = 0, used2 = 0;
    double x = std::stod(v.substr(0, colon), &used1), y = std::stod(v.substr(colon + 1), &used2);
    NWQ_CHECK(used1 == colon && used2 == v.size() - colon - 1, "");
    return {x, y};
  } catch (const std::exception&) {
    throw Error(str(flag, ": expected two numbers as START:END, got '", v, "'"));
  }
}

QuantConfig config_from_flags(const ArgParser& a, const std::string& model_name) {
  QuantConfig c = preset_config(a.get("--method"), model_name);
  const QuantConfig preset = c;
  c.wbits = static_cast<int>(a.get_int("--wbits", 2, 8));
  c.abits = static_cast<int>(a.get_int("--abits", 2, 8));
  if (a.has("--scope")) c.scope = parse_scope(a.get("--scope"), "--scope");
  if (a.has("--rounding")) c.rounding = parse_rounding(a.get("--rounding"), "--rounding");
  if (a.has("--mix")) c.mixing = parse_mixing(a.get("--mix"), "--mix");
  if (a.has("--learn-act-steps"))
    c.learn_act_steps = a.get_choice("--learn-act-steps", {"yes", "no"}) == "yes";
  if (c.scope != preset.scope || c.rounding != preset.rounding || c.mixing != preset.mixing ||
      c.learn_act_steps != preset.learn_act_steps)
    c.method = "custom";
  c.iters = a.get_int("--iters", 0, 100000000);
  c.calib = a.get_int("--calib", 1, 100000000);
  c.init_images = std::min(a.get_int("--init-images", 1, 100000000), c.calib);
  c.batch = a.get_int("--batch", 1, 1 << 16);
  c.lr_round = a.get_double("--lr-round", 1e-12, 10);
  if (a.has("--lr-act")) c.lr_act = a.get_double("--lr-act", 0, 10);
  if (a.has("--lambda")) c.lambda = a.get_double("--lambda", 0, 1e6);
  std::tie(c.beta_start, c.beta_end) = pair_flag(a, "--beta");
  c.warmup = a.get_double("--warmup", 0, 0.999);
  auto cand = pair_flag(a, "--candidates");
  NWQ_CHECK(std::fabs(cand.first) <= 16 && std::fabs(cand.second) <= 16,
            "--candidates: integers LO <= 0 < 1 <= HI, at most 9 candidates (got '",
            a.get("--candidates"), "')");
  c.cand_lo = static_cast<int>(cand.first), c.cand_hi = static_cast<int>(cand.second);
  NWQ_CHECK(c.cand_lo == cand.first && c.cand_hi == cand.second && c.cand_lo <= 0 && c.cand_hi >= 1
                && c.cand_hi - c.cand_lo <= 8,
            "--candidates: integers LO <= 0 < 1 <= HI, at most 9 candidates (got '",
            a.get("--candidates"), "')");
  std::tie(c.tau_start, c.tau_end) = pair_flag(a, "--tau");
  c.drop_p = a.get_double("--drop-p", 0, 1);
  std::tie(c.mix_start, c.mix_end) = pair_flag(a, "--mix-share");
  c.lp = a.get_double("--lp", 1, 100);
  c.observer = parse_observer(a.get("--observer"), "--observer");
  c.calib_on = parse_calib_on(a.get("--calib-on"), "--calib-on");
  c.loss_reduce = parse_loss_reduce(a.get("--loss-reduce"), "--loss-reduce");
  c.step_pass_lp = a.get_double("--step-pass-p", 1, 100);
  c.act_grad_scale = a.get_choice("--act-grad-scale", {"lsq", "none"}) == "lsq";
  c.first_layer_8bit = !a.on("--no-8bit-first");
  c.last_layer_8bit = !a.on("--no-8bit-last");
  c.last_act_8bit = !a.on("--no-8bit-last-input");
  c.cache_fp = a.on("--cache-fp");
  c.seed = static_cast<uint64_t>(a.get_int("--seed", 0, INT64_MAX));
  validate(c);
  return c;
}

void print_config(const QuantConfig& c, const std::string& model_name, const std::string& data) {
  std::fprintf(stderr, "nwq quantize: %s on %s, method %s: W%dA%d, scope %s, rounding %s, mixing %s\n",
               model_name.c_str(), data.c_str(), c.method.c_str(), c.wbits, c.abits,
               to_string(c.scope).c_str(), to_string(c.rounding).c_str(), to_string(c.mixing).c_str());
  std::fprintf(stderr, "conventions:\n%s", describe_conventions(c).c_str());
  std::fprintf(stderr, "config: %s\n", to_json(c.to_json()).c_str());
}

}  // namespace

ArgParser quantize_flags() {
  ArgParser a("quantize", "Quantizes trained weights after training (PTQ) and evaluates them.");
  declare_flags(a);
  return a;
}

int cmd_quantize(const std::vector<std::string>& args) {
  ArgParser a = quantize_flags();
  a.parse(args);
  if (a.help_requested()) {
    std::fputs(a.help().c_str(), stdout);
    return 0;
  }
  NWQ_CHECK(a.has("--weights"), "quantize: --weights FILE is required");
  TensorFile weights = load_weights_file(a.get("--weights"));
  const std::string model_name = a.has("--model") ? a.get("--model") : weights.meta("model");
  NWQ_CHECK(!model_name.empty(), weights.path, ": no 'model' in the file's metadata; pass --model");
  check_model_name(model_name);
  QuantizeJob job;
  job.config = config_from_flags(a, model_name);  // every flag is checked before any work
  const NormalizationChoice norm = choose_normalization(a, &weights.metadata, weights.path);
  if (a.has("--out")) check_output_path(a.get("--out"), "--out");
  if (a.has("--report")) check_output_path(a.get("--report"), "--report");
  job.device = device_from_flag(a);
  job.workers = workers_from_flag(a);
  job.progress = !a.on("--quiet");
  EvalOptions eval_options;
  eval_options.device = job.device;
  eval_options.workers = job.workers;
  eval_options.progress = job.progress;
  eval_options.limit = a.get_int("--eval-limit", -1, INT64_MAX);
  job.evaluate = top1_evaluator(eval_options);
  job.eval_fp = !a.on("--no-fp-eval");
  NWQ_CHECK(!a.on("--resume") || a.has("--state"), "--resume needs --state FILE");
  if (a.has("--state")) {
    check_output_path(a.get("--state"), "--state");
    job.state_path = a.get("--state");
  }
  job.checkpoint_every = a.get_int("--checkpoint-every", 1, INT64_MAX);
  job.resume = a.on("--resume");
  DataSplits data = open_data(a.get("--data"), data_options_from_flags(a, false, true, norm));
  report_skipped_images(data);
  report_normalization(norm, data);
  NWQ_CHECK(data.train, "quantize: --data ", a.get("--data"), " has no training split for calibration");
  print_config(job.config, model_name, data.name);
  job.model = build_model(model_name, data, 0, "");
  job.model->load_checkpoint(weights);
  job.model->to(job.device);
  job.model_name = model_name, job.weights = weights.path, job.data_name = data.name;
  job.calib_source = data.train.get();
  job.test = data.test.get();
  QuantizeResult r = run_quantize(job);
  r.report.set("normalization", Json::object({{"mean", channel_values_json(data.mean)},
                                              {"std", channel_values_json(data.std)}}));
  // -1: not measured (--no-fp-eval); the JSON keeps -1, the text says so.
  char fp_text[32] = "not evaluated";
  if (r.fp_top1 >= 0) std::snprintf(fp_text, sizeof fp_text, "%.2f%%", r.fp_top1);
  std::fprintf(stderr, "%s W%dA%d %s: FP top1 %s, quantized top1 %.2f%%\n", model_name.c_str(),
               job.config.wbits, job.config.abits, job.config.method.c_str(), fp_text,
               r.quant_top1);
  if (a.has("--out")) {
    SafetensorsMetadata extra = {{"data", data.name}, {"quant_top1", str(r.quant_top1)},
                                 {"weights", weights.path}};
    for (const auto& entry : normalization_metadata(data)) extra.push_back(entry);
    save_quantized(*r.model, model_name, a.get("--out"), extra);
    std::fprintf(stderr, "saved %s\n", a.get("--out").c_str());
  }
  if (a.has("--report")) {
    const std::string text = to_json(r.report) + "\n";
    write_file_atomic(a.get("--report"), text.data(), text.size());
  }
  if (a.on("--json"))
    print_json_line(Json::object({{"model", model_name}, {"data", data.name},
                                  {"device", job.device.name()},
                                  {"method", job.config.method}, {"wbits", job.config.wbits},
                                  {"abits", job.config.abits}, {"seed", job.config.seed},
                                  {"fp_top1", r.fp_top1}, {"quant_top1", r.quant_top1},
                                  {"seconds", r.report.at("timing_seconds").at("total").as_double()},
                                  {"reconstruct_seconds", r.report.at("timing_seconds").at("reconstruct").as_double()},
                                  {"mean", channel_values_json(data.mean)},
                                  {"std", channel_values_json(data.std)}}));
  return 0;
}

}  // namespace nwq
