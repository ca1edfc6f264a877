// `nwq train`: trains a model on a data set with SGD + momentum and a cosine (or other) LR
// schedule, evaluates on the test split after each epoch, and saves the weights.
#include <chrono>
#include <cstdio>

#include "core/progress.h"
#include "core/tensor_io.h"
#include "train/precise_bn.h"
#include "train/trainer.h"
#include "tools/lib/commands.h"
#include "tools/lib/cli_common.h"

namespace nwq {

ArgParser train_flags() {
  ArgParser a("train", "Trains a model from scratch (or from --weights) and reports test top-1.");
  a.add("--model", "NAME", "resnet20", "model name (" + [] {
    std::string s;
    for (const std::string& n : model_names()) s += (s.empty() ? "" : ", ") + n;
    return s;
  }() + ")");
  add_data_flags(a, false);
  a.add("--epochs", "N", "15", "training epochs (0 with --weights: only --precise-bn and evaluation)");
  a.add("--batch", "N", "128", "batch size");
  a.add("--lr", "X", "0.1", "peak learning rate");
  a.add("--momentum", "X", "0.9", "SGD momentum (nesterov)");
  a.add("--wd", "X", "5e-4", "weight decay");
  a.add("--schedule", "S", "cosine", "LR schedule: cosine, linear, constant or step:SIZE:GAMMA");
  a.add("--warmup", "EPOCHS", "0", "linear LR warm-up length in epochs");
  a.add("--label-smoothing", "X", "0", "cross-entropy label smoothing");
  a.add("--seed", "N", "0", "seed for initialisation, shuffling and augmentation");
  add_device_flags(a);
  add_loading_flags(a);
  a.add("--limit", "N", "-1", "train on only the first N images of each epoch (-1: all)");
  a.add("--eval-limit", "N", "-1", "evaluate on only the first N test images (-1: all)");
  a.add("--weights", "FILE", "", "start from these weights (safetensors or torch.save .pth)");
  a.add("--out", "FILE", "", "save the trained weights here (safetensors)");
  a.add_switch("--no-augment", "turn off random crop and flip");
  a.add("--precise-bn", "N", "0",
        "after training, recompute every BatchNorm's running statistics from N training images "
        "(pycls's precise BN; 0: keep the momentum averages)");
  add_output_switches(a);
  return a;
}

static TrainOptions train_options(const ArgParser& a) {
  TrainOptions o;
  o.epochs = a.get_int("--epochs", 0, 100000);
  o.batch = a.get_int("--batch", 1, 1 << 16);
  o.lr = a.get_double("--lr", 0, 100);
  o.momentum = a.get_double("--momentum", 0, 0.9999);
  o.nesterov = o.momentum > 0;
  o.weight_decay = a.get_double("--wd", 0, 1);
  o.schedule = a.get("--schedule");
  o.warmup_epochs = a.get_double("--warmup", 0, double(o.epochs));
  o.label_smoothing = a.get_double("--label-smoothing", 0, 0.99);
  o.seed = static_cast<uint64_t>(a.get_int("--seed", 0, INT64_MAX));
  o.device = device_from_flag(a);
  o.workers = workers_from_flag(a);
  o.limit = a.get_int("--limit", -1, INT64_MAX);
  o.eval_limit = a.get_int("--eval-limit", -1, INT64_MAX);
  o.progress = !a.on("--quiet");
  return o;
}

// The epochs behind the saved weights: --epochs, or with --epochs 0 (precise BN only) those
// recorded in the --weights file when it is a safetensors file that records them.
static std::string trained_epochs(const ArgParser& a, int64_t epochs) {
  const std::string w = a.has("--weights") ? a.get("--weights") : "";
  const std::string ext = ".safetensors";
  if (epochs > 0 || w.size() < ext.size() || w.compare(w.size() - ext.size(), ext.size(), ext) != 0)
    return std::to_string(epochs);
  return load_safetensors(w).meta("epochs", "0");
}

int cmd_train(const std::vector<std::string>& args) {
  ArgParser a = train_flags();
  a.parse(args);
  if (a.help_requested()) {
    std::fputs(a.help().c_str(), stdout);
    return 0;
  }
  TrainOptions o = train_options(a);
  if (o.epochs == 0 && !a.has("--weights"))
    throw Error("train: --epochs 0 needs --weights (there is nothing to train from)");
  const NormalizationChoice norm = choose_normalization(a, nullptr, "");
  if (a.has("--out")) check_output_path(a.get("--out"), "--out");
  std::string model_name = a.get("--model");
  check_model_name(model_name);
  DataSplits data =
      open_data(a.get("--data"), data_options_from_flags(a, !a.on("--no-augment"), true, norm));
  report_skipped_images(data);
  report_normalization(norm, data);
  ModelPtr model = build_model(model_name, data, o.seed, a.has("--weights") ? a.get("--weights") : "");
  model->to(o.device);
  std::fprintf(stderr, "train %s on %s: %lld train / %lld test images, %lld parameters, %s\n",
               model_name.c_str(), data.name.c_str(), (long long)data.train->size(),
               (long long)data.test->size(), (long long)model->num_parameters(),
               o.device.name().c_str());
  std::vector<EpochStats> history;
  if (o.epochs > 0)
    history = train_classifier(*model, *data.train, data.test.get(), o, [](const EpochStats& s) {
      std::fprintf(stderr, "epoch %lld: train loss %.4f acc %.2f%% | test loss %.4f top1 %.2f%% | %s\n",
                   (long long)s.epoch, s.train_loss, s.train_top1, s.test.loss, s.test.top1,
                   format_duration(s.seconds + s.test.seconds).c_str());
    });
  double seconds = 0;
  for (const EpochStats& s : history) seconds += s.seconds + s.test.seconds;
  const EvalOptions eo = test_eval_options(o);
  const int64_t precise = a.get_int("--precise-bn", 0, INT64_MAX);
  int64_t precise_used = 0;
  if (precise > 0) {
    PreciseBnOptions po;
    po.images = precise;
    po.batch = o.batch;
    po.seed = o.seed;
    po.device = o.device;
    po.workers = o.workers;
    const auto start = std::chrono::steady_clock::now();
    precise_used = compute_precise_bn_stats(*model, *data.train, po);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "precise BN: running statistics from %lld training images\n",
                 (long long)precise_used);
  }
  // The final test numbers: the last epoch's, or a fresh evaluation when none ran or the
  // statistics changed after it.
  EvalResult final_test = history.empty() || precise > 0 ? evaluate(*model, *data.test, eo)
                                                         : history.back().test;
  seconds += history.empty() || precise > 0 ? final_test.seconds : 0;
  if (a.has("--out")) {
    SafetensorsMetadata meta = {{"model", model_name}, {"data", data.name},
                                {"num_classes", std::to_string(data.num_classes)},
                                {"in_channels", std::to_string(data.channels)},
                                {"epochs", trained_epochs(a, o.epochs)},
                                {"top1", str(final_test.top1)}, {"seed", std::to_string(o.seed)}};
    if (precise_used > 0) meta.push_back({"precise_bn_images", std::to_string(precise_used)});
    for (const auto& entry : normalization_metadata(data)) meta.push_back(entry);
    model->save(a.get("--out"), meta);
    std::fprintf(stderr, "saved %s\n", a.get("--out").c_str());
  }
  std::fprintf(stderr, "test top1 %.2f%% after %lld epochs (%s)\n", final_test.top1,
               (long long)o.epochs, format_duration(seconds).c_str());
  if (a.on("--json")) {
    print_json_line(Json::object({{"model", model_name}, {"data", data.name},
                                  {"top1", final_test.top1}, {"loss", final_test.loss},
                                  {"images", Json(final_test.images)}, {"epochs", Json(o.epochs)},
                                  {"seconds", seconds}, {"mean", channel_values_json(data.mean)},
                                  {"std", channel_values_json(data.std)}}));
  }
  return 0;
}

}  // namespace nwq
