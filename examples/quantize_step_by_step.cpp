// Example: NWQ (network-wise quantization, NeurIPS 2022) one step at a time on the committed
// Fashion-MNIST ResNet-20: prepare -> calibrate -> reconstruct -> harden -> evaluate -> export.
//
// What it teaches (read it with the paper beside it; docs/QUANTIZATION.md has every convention):
//   - prepare: QuantModel folds BN, wraps every conv/linear and activation (model files untouched);
//   - calibrate: per-channel weight grids and activation steps from QDrop's MSE observer;
//   - reconstruct: the NWQ loop written out - annealed-softmax rounding variables (temperature tau
//     1 -> 0.01), AMixup of FP and quantized block inputs (FP share 0.5 -> 0), the loss summed over
//     all block outputs (activation regularization), Adam on rounding variables and steps;
//   - harden: argmax of each weight's candidates; how many weights left round-to-nearest;
//   - evaluate and export: top-1, packed safetensors, reloaded bit for bit.
// The library's reconstruct() (quant/reconstruct.h) is this loop plus checkpoints and a progress
// bar; `nwq quantize --method nwq` is the whole run.
// Run from the repository root (the default --weights is in models/weights/):
//   build/examples/quantize_step_by_step [--iters 400] [--calib 256] [--test-limit N]
//     [--weights FILE] [--out FILE]             (CI: --iters 20 --calib 64 --test-limit 300)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "data/sources.h"
#include "models/registry.h"
#include "ops/backend.h"
#include "ops/elementwise.h"
#include "ops/mix.h"
#include "optim/optimizer.h"
#include "quant/export.h"
#include "quant/pipeline.h"
#include "quant/unit_optimizer.h"
#include "train/trainer.h"

using namespace nwq;

double top1(Module& model, const Dataset& test, int64_t limit) {
  EvalOptions eo;
  eo.limit = limit, eo.progress = false;
  return evaluate(model, test, eo).top1;
}

void print_block_errors(const char* when, QuantModel& qm, const std::vector<double>& e) {
  std::printf("block errors (MSE vs FP) %s:", when);
  for (size_t b = 0; b < e.size(); ++b) std::printf(" %s %.4f", qm.block_name(b).c_str(), e[b]);
  std::printf("\n");
}

// The four weights of channel 0 closest to a rounding boundary (w/step half-way between two
// grid points): where the choice between rounding down and up matters most.
std::vector<int64_t> boundary_weights(const QuantLayer& l) {
  const std::vector<float> w = l.weight.to_vector<float>();
  const double s = l.scale.to_vector<float>()[0];
  std::vector<int64_t> idx(size_t(l.weight.numel() / l.weight.size(0)));
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = int64_t(i);
  auto distance = [&](int64_t i) { return std::fabs(w[i] / s - std::floor(w[i] / s) - 0.5); };
  std::partial_sort(idx.begin(), idx.begin() + 4, idx.end(),
                    [&](int64_t a, int64_t b) { return distance(a) < distance(b); });
  return {idx.begin(), idx.begin() + 4};
}

// Those weights: FP value / step, the nearest code and the layer's current code, and (when
// soft) the probability that the annealed softmax gives the upper candidate, softmax(V/tau)[1].
void print_weights(const QuantLayer& l, const char* when, const std::vector<int64_t>& which,
                   const std::vector<float>& nearest) {
  const std::vector<float> w = l.weight.to_vector<float>(), code = l.codes.to_vector<float>();
  const double s = l.scale.to_vector<float>()[0];
  std::printf("  %s:\n", when);
  for (int64_t i : which) {
    std::printf("    weight %3lld  w/step %+7.3f  nearest code %.0f", (long long)i, w[i] / s,
                nearest[i]);
    if (l.mode() == QuantLayer::Mode::Soft) {
      const std::vector<float> v = l.round_v.to_vector<float>();  // [2 candidates, weight shape]
      const double up = 1 / (1 + std::exp((v[i] - v[i + l.weight.numel()]) / l.tau));
      std::printf("  P(round up) %.3f", up);
    }
    if (l.mode() == QuantLayer::Mode::Hard) std::printf("  hardened code %.0f", code[i]);
    std::printf("\n");
  }
}

int main(int argc, char** argv) try {
  init_backends();
  int64_t test_limit = -1;
  std::string weights = "models/weights/fmnist_resnet20.safetensors";
  std::string out = "fmnist_w2a4.safetensors";
  QuantConfig c = preset_config("nwq", "resnet20");  // network scope, ASoftmax, AMixup
  c.wbits = 2, c.abits = 4, c.calib = 256, c.iters = 400;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--iters") c.iters = std::stoll(value);
    else if (flag == "--calib") c.calib = c.init_images = std::stoll(value);
    else if (flag == "--test-limit") test_limit = std::stoll(value);
    else if (flag == "--weights") weights = value;
    else if (flag == "--out") out = value;
    else throw Error(str("unknown flag ", flag));
  }
  DataSplits data = open_data("fmnist", /*augment_train=*/false);  // calibration: no augmentation
  ModelPtr model = create_model("resnet20", data.num_classes, int(data.channels), 0);
  model->load_checkpoint(weights);
  std::printf("FP ResNet-20: top-1 %.2f%%\n", top1(*model, *data.test, test_limit));

  // 1. Prepare: fold BN, wrap layers and activations (W2A4; first and last layer 8-bit).
  Tensor calib = load_calibration(*data.train, c, Device::cpu(), 2);
  QuantModel qm(model, calib.slice(0, 0, 2), c);
  std::printf("\n1. prepare: %zu layers, %zu activation quantizers, %zu blocks\n",
              qm.layers().size(), qm.acts().size(), qm.num_blocks());
  QuantLayer& layer = *qm.layers()[1].layer;  // layer1.0.conv1, a 2-bit layer
  std::printf("   watching %s (BN %s folded in)\n", qm.layers()[1].name.c_str(),
              qm.layers()[1].bn.c_str());

  // 2. Calibrate: weight grids per output channel, activation steps on the FP network.
  calibrate(qm, calib.slice(0, 0, std::min<int64_t>(c.init_images, c.calib)));
  std::printf("\n2. calibrate: %s is %d-bit, codes 0..%lld\n", qm.layers()[1].name.c_str(),
              layer.bits(), (long long)layer.qmax());
  const std::vector<float> nearest = layer.codes.to_vector<float>();  // round to nearest
  const std::vector<int64_t> watch = boundary_weights(layer);
  std::printf("   channel 0: step %.5f, zero point %.0f\n", layer.scale.to_vector<float>()[0],
              layer.zero_point.to_vector<float>()[0]);
  print_weights(layer, "its four weights nearest a rounding boundary", watch, nearest);
  std::printf("   activation %s: step %.4f\n", qm.acts()[0].name.c_str(),
              qm.acts()[0].quantizer->scale.item());
  const std::vector<double> before = block_errors(qm, calib);
  print_block_errors("with round-to-nearest", qm, before);

  // 3. Reconstruct, the NWQ loop: every rounding variable and activation step at once.
  std::vector<Tensor> round_vars, steps;
  for (const auto& e : qm.layers()) {
    e.layer->init_rounding(Rounding::ASoftmax, c.cand_lo, c.cand_hi);  // soft weight = FP weight
    round_vars.push_back(e.layer->round_v);
  }
  for (const auto& a : qm.acts()) steps.push_back(a.quantizer->scale);
  std::printf("\n3. reconstruct: %zu layers of rounding variables, %zu steps, %lld iterations\n",
              round_vars.size(), steps.size(), (long long)c.iters);
  print_weights(layer, "at the start (tau 1: the soft weight is the FP weight)", watch, nearest);
  AdamOptions round_opt, step_opt;
  round_opt.lr = c.lr_round, step_opt.lr = c.lr_act;
  Adam adam_round(round_vars, round_opt), adam_steps(steps, step_opt);
  Rng batch_rng(c.seed);
  for (int64_t it = 0; it < c.iters; ++it) {
    const double t = double(it) / double(c.iters);
    const double tau = c.tau_start + (c.tau_end - c.tau_start) * t;     // annealed softmax
    const double share = c.mix_start + (c.mix_end - c.mix_start) * t;   // AMixup's FP share
    for (const auto& e : qm.layers()) e.layer->tau = tau;
    std::vector<int64_t> idx = batch_rng.permutation(calib.size(0));
    idx.resize(size_t(std::min(c.batch, calib.size(0))));
    const Tensor x = gather_rows(calib, idx);
    std::vector<Tensor> fp(qm.num_blocks());  // the FP network's block outputs: the targets
    {
      NoGradGuard no_grad;
      FloatModeGuard float_mode(qm);
      Tensor h = x;
      for (size_t b = 0; b < qm.num_blocks(); ++b) fp[b] = h = qm.run_block(b, h);
    }
    Tensor h = x, loss;
    std::vector<double> terms;
    for (size_t b = 0; b < qm.num_blocks(); ++b) {
      Tensor y = qm.run_block(b, h);
      Tensor term = reconstruction_loss(y, fp[b], c.loss_reduce);  // one block's error
      terms.push_back(term.item());
      loss = loss.defined() ? loss + term : term;
      h = amixup(fp[b], y, share);  // next block's input: share * FP + (1 - share) * quantized
    }
    adam_round.zero_grad(), adam_steps.zero_grad();
    backward(loss);
    adam_round.step();
    adam_steps.set_lr(c.lr_act * 0.5 * (1 + std::cos(M_PI * t)));  // cosine decay
    adam_steps.step();
    // The loss grows as tau falls: the soft weights, FP at first, are pushed onto the grid.
    if (it % std::max<int64_t>(1, c.iters / 5) == 0 || it + 1 == c.iters)
      std::printf("   iter %4lld  tau %.3f  FP share %.3f  loss %.4f = stem %.4f + ... + %s %.4f\n",
                  (long long)it, tau, share, loss.item(), terms.front(),
                  qm.block_name(qm.num_blocks() - 1).c_str(), terms.back());
    NWQ_CHECK(std::isfinite(loss.item()), "the loss is ", loss.item(), " at iteration ", it);
  }
  print_weights(layer, "at the end (the lowest tau: nearly hard)", watch, nearest);

  // 4. Harden: each weight takes its most likely candidate; the variables are dropped.
  for (const auto& e : qm.layers()) e.layer->harden();
  std::printf("\n4. harden: weights away from round-to-nearest:");
  for (size_t i = 0; i < 4; ++i)
    std::printf(" %s %.1f%%", qm.layers()[i].name.c_str(),
                100 * qm.layers()[i].layer->share_away_from_nearest());
  std::printf(" ...\n");
  print_weights(layer, "hardened", watch, nearest);

  // 5. Evaluate.
  const std::vector<double> after = block_errors(qm, calib);
  print_block_errors("after NWQ", qm, after);
  const double q_top1 = top1(qm, *data.test, test_limit);
  std::printf("\n5. evaluate: W%dA%d top-1 %.2f%%\n", c.wbits, c.abits, q_top1);

  // 6. Export packed codes, reload into a fresh model, evaluate again.
  save_quantized(qm, "resnet20", out);
  auto reloaded = load_quantized(load_safetensors(out), data.num_classes, int(data.channels),
                                 data.height, data.width, Device::cpu());
  const double r_top1 = top1(*reloaded, *data.test, test_limit);
  std::printf("6. export: %s, reloaded top-1 %.2f%%\n", out.c_str(), r_top1);
  if (r_top1 != q_top1 || !(after.back() < before.back())) {
    std::printf("FAILED: %s\n", r_top1 != q_top1 ? "the reloaded model differs"
                                                  : "NWQ did not lower the output error");
    return 1;
  }
  std::printf("NWQ lowered the output error (%.4f -> %.4f); export round trip exact\n",
              before.back(), after.back());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "quantize_step_by_step: error: %s\n", e.what());
  return 1;
}
