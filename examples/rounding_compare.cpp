// Example: three ways to round one layer's weights to a 2-bit grid - round-to-nearest, AdaRound
// (rectified sigmoid + regularizer) and NWQ's annealed softmax - compared on the same layer of the
// Fashion-MNIST ResNet-20: how many weights each moves away from nearest, and the output error.
//
// What it teaches:
//   - a QuantLayer (conv + folded BN) and its modes Float, Nearest, Soft (rounding vars), Hard;
//   - nearest rounding is not the best rounding: minimizing the layer's *output* error instead of
//     each weight's own error moves some weights to the other grid point (AdaRound's insight);
//   - AdaRound needs a regularizer (beta annealed 20 -> 2) to push h(V) to 0 or 1; the annealed
//     softmax gets there by lowering its temperature tau (1 -> 0.01) instead;
//   - capturing a layer's input and output with QuantLayer::observer.
// Errors are measured on the calibration images the rounding was fitted to, with FP inputs
// (weight quantization only). Short runs use lr 1e-2 (the papers' 1e-3 needs ~20k iterations).
// Run from the repository root (the default --weights is in models/weights/):
//   build/examples/rounding_compare [--layer layer2.0.conv1] [--iters 300] [--calib 256]
//     [--weights FILE]                                       (CI: --iters 100 --calib 128)
#include <cstdio>
#include <string>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "data/sources.h"
#include "models/registry.h"
#include "ops/backend.h"
#include "ops/elementwise.h"
#include "ops/loss.h"
#include "optim/optimizer.h"
#include "quant/pipeline.h"
#include "quant/unit_optimizer.h"

using namespace nwq;

struct Captured {
  Tensor input, output;  // the layer's FP input and FP output on every calibration image
};

// Runs the FP network once with an observer on `layer` that keeps what it sees.
Captured capture(QuantModel& qm, QuantLayer& layer, const Tensor& images) {
  NoGradGuard no_grad;
  FloatModeGuard fp(qm);  // all quantizers off, layers in Float mode: the FP network
  Captured c;
  layer.observer = [&](const Tensor& x, const Tensor& y) {
    c.input = x.clone();
    c.output = y.clone();
  };
  qm.forward(images);
  layer.observer = nullptr;
  return c;
}

double output_error(QuantLayer& layer, const Captured& c) {
  NoGradGuard no_grad;
  return mse_loss(layer.forward(c.input), c.output).item();
}

// Fits the layer's rounding variables to its FP output (BRECQ/QDrop's layer loss), then hardens.
void fit(QuantLayer& layer, Rounding rounding, const Captured& c, const QuantConfig& config) {
  layer.init_rounding(rounding, config.cand_lo, config.cand_hi);
  AdamOptions ao;
  ao.lr = config.lr_round;
  Adam adam({layer.round_v}, ao);
  Rng rng(config.seed);
  for (int64_t it = 0; it < config.iters; ++it) {
    const double t = double(it) / double(config.iters);
    layer.tau = config.tau_start + (config.tau_end - config.tau_start) * t;  // ASoftmax only
    std::vector<int64_t> idx = rng.permutation(c.input.size(0));
    idx.resize(size_t(std::min(config.batch, c.input.size(0))));
    Tensor loss = reconstruction_loss(layer.forward(gather_rows(c.input, idx)),
                                      gather_rows(c.output, idx), config.loss_reduce);
    const double beta = adaround_beta(config, it, config.iters);  // 0 during the warm-up
    if (rounding == Rounding::AdaRound && beta > 0)
      loss = loss + layer.regularizer(beta) * config.lambda;
    adam.zero_grad();
    backward(loss);
    adam.step();
  }
  layer.harden();  // AdaRound: V >= 0; ASoftmax: argmax over the candidates
}

int main(int argc, char** argv) try {
  init_backends();
  std::string layer_name = "layer2.0.conv1";
  std::string weights = "models/weights/fmnist_resnet20.safetensors";
  QuantConfig c = preset_config("adaround", "resnet20");
  c.wbits = 2, c.iters = 300, c.calib = 256, c.lr_round = 1e-2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--layer") layer_name = value;
    else if (flag == "--iters") c.iters = std::stoll(value);
    else if (flag == "--calib") c.calib = c.init_images = std::stoll(value);
    else if (flag == "--weights") weights = value;
    else throw Error(str("unknown flag ", flag));
  }
  DataSplits data = open_data("fmnist", /*augment_train=*/false, /*load_train=*/true);
  ModelPtr model = create_model("resnet20", data.num_classes, int(data.channels), 0);
  model->load_checkpoint(weights);
  Tensor calib = load_calibration(*data.train, c, Device::cpu(), 2);
  QuantModel qm(model, calib.slice(0, 0, 2), c);
  calibrate(qm, calib);  // every layer's grid; mode Nearest
  QuantLayer* layer = nullptr;
  for (const auto& e : qm.layers())
    if (e.name == layer_name) layer = e.layer.get();
  NWQ_CHECK(layer, "--layer: no quantized layer named ", layer_name);
  const Captured fp = capture(qm, *layer, calib);
  std::printf("%s: %lld weights at %d bits, input %s, %lld calibration images, %lld iterations\n",
              layer_name.c_str(), (long long)layer->weight.numel(), layer->bits(),
              shape_str(fp.input.sizes()).c_str(), (long long)c.calib, (long long)c.iters);

  std::printf("%-16s %22s %18s\n", "rounding", "moved from nearest", "output MSE");
  const double nearest = output_error(*layer, fp);
  std::printf("%-16s %21.2f%% %18.6f\n", "nearest", 0.0, nearest);
  double errors[2];
  const Rounding methods[2] = {Rounding::AdaRound, Rounding::ASoftmax};
  for (int m = 0; m < 2; ++m) {
    fit(*layer, methods[m], fp, c);
    errors[m] = output_error(*layer, fp);
    std::printf("%-16s %21.2f%% %18.6f\n", to_string(methods[m]).c_str(),
                100 * layer->share_away_from_nearest(), errors[m]);
  }
  if (!(errors[0] < nearest && errors[1] < nearest)) {
    std::printf("FAILED: a learned rounding did not beat nearest on its own data\n");
    return 1;
  }
  std::printf("both learned roundings beat nearest\n");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "rounding_compare: error: %s\n", e.what());
  return 1;
}
