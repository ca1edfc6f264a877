// `nwq eval`: loads weights and reports top-1, top-5, loss and images/s on a test split.
// The model name is read from the weights' metadata when --model is not given.
#include <cstdio>

#include "core/tensor_io.h"
#include "core/torch_checkpoint.h"
#include "deploy/int_engine.h"
#include "quant/export.h"
#include "train/trainer.h"
#include "tools/lib/commands.h"
#include "tools/lib/cli_common.h"

namespace nwq {

ArgParser eval_flags() {
  ArgParser a("eval", "Evaluates weights on the test split of a data set.");
  a.add("--model", "NAME", "", "model name (default: the weights' metadata)");
  a.add("--weights", "FILE", "", "weights to evaluate (safetensors or torch.save .pth)");
  add_data_flags(a, true);
  a.add("--batch", "N", "256", "batch size");
  add_device_flags(a);
  add_loading_flags(a);
  a.add("--limit", "N", "-1", "evaluate only the first N test images (-1: all)");
  a.add("--engine", "E", "fake", "quantized files: fake (fake-quant float arithmetic) or int (the "
        "integer engine, CPU: uint8 codes, int32 accumulation; docs/DEPLOY.md)");
  add_output_switches(a);
  return a;
}

int cmd_eval(const std::vector<std::string>& args) {
  ArgParser a = eval_flags();
  a.parse(args);
  if (a.help_requested()) {
    std::fputs(a.help().c_str(), stdout);
    return 0;
  }
  NWQ_CHECK(a.has("--weights"), "eval: --weights FILE is required");
  TensorFile weights = load_weights_file(a.get("--weights"));  // bad files fail before data loads
  std::string model_name = a.has("--model") ? a.get("--model") : weights.meta("model");
  NWQ_CHECK(!model_name.empty(), weights.path, ": no 'model' in the file's metadata; pass --model");
  check_model_name(model_name);
  const NormalizationChoice norm = choose_normalization(a, &weights.metadata, weights.path);
  EvalOptions o;
  o.batch = a.get_int("--batch", 1, 1 << 16);
  o.device = device_from_flag(a);
  o.workers = workers_from_flag(a);
  o.limit = a.get_int("--limit", -1, INT64_MAX);
  o.progress = !a.on("--quiet");
  DataSplits data = open_data(a.get("--data"), data_options_from_flags(a, false, false, norm));
  report_skipped_images(data);
  report_normalization(norm, data);
  const std::string engine = a.get("--engine");
  NWQ_CHECK(engine == "fake" || engine == "int", "eval: --engine must be fake or int, got '", engine, "'");
  NWQ_CHECK(engine == "fake" || is_quantized_file(weights), "eval: --engine int needs a quantized file "
            "(nwq quantize --out); ", weights.path, " holds FP weights");
  NWQ_CHECK(engine == "fake" || o.device.is_cpu(), "eval: --engine int runs on the CPU (--device cpu)");
  std::shared_ptr<Module> model;
  if (is_quantized_file(weights)) {  // packed codes from `nwq quantize --out`
    auto qm = load_quantized(weights, data.num_classes, int(data.channels), data.height, data.width,
                             o.device);
    model = qm;
    if (engine == "int") {
      OnnxExportOptions in;
      in.channels = data.channels, in.height = data.height, in.width = data.width;
      in.num_classes = data.num_classes;
      auto ie = std::make_shared<IntEngine>(*qm, model_name, in);
      const IntEngineStats& st = ie->stats();
      std::fprintf(stderr, "int engine (%s): %d integer layers (%d requantized to codes), %d float "
                   "layer(s) on the unquantized image, %d float steps\n",
                   int_isa_name(ie->isa()).c_str(), st.int_layers, st.requantized, st.float_layers,
                   st.float_steps);
      model = ie;
    }
  } else {
    ModelPtr fp = build_model(model_name, data, 0, "");
    fp->load_checkpoint(weights);
    fp->to(o.device);
    model = fp;
  }
  EvalResult r = evaluate(*model, *data.test, o);
  double rate = r.seconds > 0 ? double(r.images) / r.seconds : 0;
  std::fprintf(stderr, "%s on %s: top1 %.2f%% top5 %.2f%% loss %.4f, %lld images, %.0f images/s\n",
               model_name.c_str(), data.name.c_str(), r.top1, r.top5, r.loss, (long long)r.images,
               rate);
  if (a.on("--json")) {
    print_json_line(Json::object({{"model", model_name}, {"data", data.name}, {"engine", engine}, {"top1", r.top1},
                                  {"top5", r.top5}, {"loss", r.loss}, {"images", Json(r.images)},
                                  {"seconds", r.seconds}, {"images_per_second", rate},
                                  {"mean", channel_values_json(data.mean)},
                                  {"std", channel_values_json(data.std)}}));
  }
  return 0;
}

}  // namespace nwq
