// Calibration and reconstruction on tiny models: soft rounding starts at the FP weight, short
// layer/block/network runs lower their loss and harden every layer, same seed = same bits, NaN
// stops the run; and the whole run_quantize pipeline on a tiny in-memory data set.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>

#include "autograd/grad_mode.h"
#include "core/rng.h"
#include "data/dataset.h"
#include "models/init.h"
#include "models/layers.h"
#include "models/resnet_cifar.h"
#include "ops/conv2d.h"
#include "ops/elementwise.h"
#include "ops/pool.h"
#include "ops/shape.h"
#include "quant/pipeline.h"
#include "quant/quant_model.h"
#include "quant/reconstruct.h"
#include "tests/helpers.h"
#include "tests/quant_test_util.h"
#include "tests/tiny_resnet.h"
#include "train/trainer.h"

using namespace nwq;

namespace {

using test::fill_uniform;
using test::randomize_all_bn;
using test::randomize_bn;
using test::prepare_tiny;
using test::TinyResNet;

Tensor calib_images(int64_t n, uint64_t seed = 77) { return test::rand32({n, 1, 8, 8}, seed); }

// A short run: 2-bit weights, a full batch per step (a deterministic objective), lr 1e-2.
QuantConfig short_config(Scope scope, Rounding rounding, Mixing mixing, int64_t iters = 20) {
  QuantConfig c;
  c.method = "custom";
  c.wbits = 2, c.abits = 4;
  c.scope = scope, c.rounding = rounding, c.mixing = mixing;
  c.calib = 8, c.init_images = 8, c.batch = 8;
  c.iters = iters;
  c.lr_round = 1e-2;
  return c;
}

ReconstructOptions quiet() {
  ReconstructOptions o;
  o.progress = false;
  return o;
}

double sum(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); }

std::vector<float> all_codes(const QuantModel& qm) {
  std::vector<float> out;
  for (const auto& e : qm.layers()) {
    std::vector<float> c = e.layer->codes.to_vector<float>();
    out.insert(out.end(), c.begin(), c.end());
  }
  return out;
}

Tensor forward_no_grad(QuantModel& qm, const Tensor& x) {
  NoGradGuard no_grad;
  return qm.forward(x);
}

// s (clamp(w / s + z, 0, qmax) - z) per output channel, in double.
Tensor clip_to_grid(const QuantLayer& l) {
  std::vector<double> w = l.weight.to(DType::F64).to_vector<double>(),
                      s = l.scale.to(DType::F64).to_vector<double>(),
                      z = l.zero_point.to(DType::F64).to_vector<double>();
  const size_t inner = w.size() / s.size();
  for (size_t c = 0; c < s.size(); ++c)
    for (size_t i = 0; i < inner; ++i) {
      double& v = w[c * inner + i];
      v = (std::min(std::max(v / s[c] + z[c], 0.0), double(l.qmax())) - z[c]) * s[c];
    }
  return Tensor::from_vector(w, l.weight.sizes()).to(DType::F32);
}

}  // namespace

TEST_CASE("quant reconstruct: soft rounding starts at the folded weight clipped to the grid") {
  Rng rng(31);
  auto conv = std::make_shared<Conv2d>(4, 6, Conv2dOptions(3).padding(1).bias(false));
  fill_uniform(conv->weight, rng, -1, 1);
  conv->weight.data<float>()[3] = -5.0f;  // clipped at low bit widths
  auto bn = std::make_shared<BatchNorm2d>(6);
  randomize_bn(*bn, rng);
  QuantLayer ql(conv, bn);
  ql.eval();
  Tensor x = test::rand32({2, 4, 5, 5}, 8);
  struct Case {
    Rounding rounding;
    int lo, hi;
  };
  for (int bits : {2, 4}) {
    for (Case c : {Case{Rounding::AdaRound, 0, 1}, Case{Rounding::ASoftmax, 0, 1},
                   Case{Rounding::ASoftmax, -1, 2}}) {
      CAPTURE(bits);
      CAPTURE(to_string(c.rounding));
      CAPTURE(c.lo);
      ql.init_grid(bits, 2.4);
      CHECK_THROWS_WITH_AS(ql.init_rounding(Rounding::Nearest, 0, 1), doctest::Contains("nearest"),
                           Error);
      ql.init_rounding(c.rounding, c.lo, c.hi);
      CHECK(ql.mode() == QuantLayer::Mode::Soft);
      CHECK(ql.tau == 1.0);
      CHECK(ql.round_v.requires_grad());
      NoGradGuard no_grad;
      Tensor ref = conv2d(x, clip_to_grid(ql), ql.bias, conv->params());
      Tensor soft = ql.forward(x);
      // ASoftmax is exact up to ~1e-4 * max|k| of a step near fractions 0 and 1.
      CHECK(test::closeness(soft, ref, 1e-4, 2e-4 * test::max_abs(ref)) <= 1.0);
      Tensor nearest_w = dequantize_codes(ql.codes, ql.scale, ql.zero_point);
      Tensor nearest = conv2d(x, nearest_w, ql.bias, conv->params());
      CHECK(test::max_abs_diff(soft, nearest) > 1e-3 * test::max_abs(ref));  // not rounded yet
      // The hardening gap of untouched variables: mean |clipped w / s - nearest w / s|.
      auto values = [](const Tensor& t) { return t.to(DType::F64).to_vector<double>(); };
      const std::vector<double> wc = values(clip_to_grid(ql)), wn = values(nearest_w),
                                s = values(ql.scale);
      const int64_t inner = int64_t(wc.size()) / 6;
      double gap = 0;
      for (size_t k = 0; k < wc.size(); ++k) gap += std::abs(wc[k] - wn[k]) / s[k / inner];
      gap /= double(wc.size());
      CHECK(gap > 0.1);  // uniform weights: about 0.25 of a step
      // Hardening untouched variables rounds to nearest.
      ql.harden();
      CHECK(ql.mode() == QuantLayer::Mode::Hard);
      CHECK_FALSE(ql.round_v.defined());
      CHECK(ql.share_away_from_nearest() == 0.0);
      CHECK(ql.hardening_gap() == doctest::Approx(gap).epsilon(1e-3));
      CHECK(test::same_bytes(ql.forward(x), nearest));
      if (c.rounding == Rounding::AdaRound) {  // decided variables (h = 0 or 1): no gap
        ql.init_rounding(c.rounding, c.lo, c.hi);
        ql.round_v.copy_(ql.round_v * 1e6);
        ql.harden();
        CHECK(ql.share_away_from_nearest() == 0.0);
        CHECK(ql.hardening_gap() < 1e-5);  // F32 round trip s * (code - z) / s of codes <= 15
      }
    }
  }
}

TEST_CASE("quant reconstruct: calibrate sets every range; FloatModeGuard gives back the FP net") {
  Tensor calib = calib_images(8);
  auto qm = prepare_tiny(short_config(Scope::None, Rounding::Nearest, Mixing::None), calib);
  Tensor fp = forward_no_grad(*qm, calib);
  calibrate(*qm, calib);
  for (const auto& e : qm->layers()) CHECK(e.layer->mode() == QuantLayer::Mode::Nearest);
  for (const auto& a : qm->acts()) {
    CAPTURE(a.name);
    CHECK(a.quantizer->state == ActQuantizer::State::On);
    CHECK(a.quantizer->scale.item() > 0);
  }
  Tensor q = forward_no_grad(*qm, calib);
  CHECK_FALSE(test::same_bytes(q, fp));
  {
    FloatModeGuard guard(*qm);
    CHECK(test::same_bytes(forward_no_grad(*qm, calib), fp));
  }
  CHECK(test::same_bytes(forward_no_grad(*qm, calib), q));
  // Scope none: reconstruct does nothing (round to nearest stays).
  CHECK(reconstruct(*qm, calib, quiet()).empty());
  CHECK(test::same_bytes(forward_no_grad(*qm, calib), q));
  std::vector<double> errors = block_errors(*qm, calib);
  REQUIRE(errors.size() == qm->num_blocks());
  for (double e : errors) CHECK(e >= 0);
  CHECK(sum(errors) > 0);
}

namespace {

struct Axes {
  Scope scope;
  Rounding rounding;
  Mixing mixing;
};
const std::vector<Axes> kAllScopes = {{Scope::Layer, Rounding::AdaRound, Mixing::None},
                                      {Scope::Layer, Rounding::ASoftmax, Mixing::None},
                                      {Scope::Block, Rounding::AdaRound, Mixing::QDrop},
                                      {Scope::Block, Rounding::ASoftmax, Mixing::None},
                                      {Scope::Network, Rounding::AdaRound, Mixing::None},
                                      {Scope::Network, Rounding::ASoftmax, Mixing::AMixup}};

double lowest_rec(const UnitLog& u) {
  double low = u.curve.front().rec;
  for (const auto& p : u.curve) low = std::min(low, p.rec);
  return low;
}

}  // namespace

// The default schedules anneal toward hard rounding (tau -> 0.01, AdaRound's regularizer), so a
// curve can end above its start: the soft weight starts at the FP weight. What must hold: the
// loss goes down on the way, and the hardened network beats round-to-nearest.
TEST_CASE("quant reconstruct: short runs harden every layer and beat round-to-nearest") {
  const Tensor calib = calib_images(8);
  for (Axes c : kAllScopes) {
    CAPTURE(to_string(c.scope));
    CAPTURE(to_string(c.rounding));
    CAPTURE(to_string(c.mixing));
    auto qm = prepare_tiny(short_config(c.scope, c.rounding, c.mixing), calib);
    calibrate(*qm, calib);
    const std::vector<double> before = block_errors(*qm, calib);
    std::vector<UnitLog> logs = reconstruct(*qm, calib, quiet());
    const std::vector<double> after = block_errors(*qm, calib);
    for (const auto& e : qm->layers()) {
      CAPTURE(e.name);
      CHECK(e.layer->mode() == QuantLayer::Mode::Hard);
      CHECK_FALSE(e.layer->round_v.defined());
    }
    const size_t units = c.scope == Scope::Layer ? qm->layers().size()
                         : c.scope == Scope::Block ? qm->num_blocks() : 1;
    REQUIRE(logs.size() == units);
    CHECK(logs.front().name == (c.scope == Scope::Layer ? "conv1"
                                : c.scope == Scope::Block ? "block stem" : "network"));
    double first = 0;
    for (const auto& u : logs) first += u.curve.front().rec;
    for (const auto& u : logs) {
      CAPTURE(u.name);
      CHECK(u.iters == 20);
      REQUIRE(u.curve.size() == 20);  // every iteration: fewer than curve_points
      CHECK(u.curve.front().iter == 0);
      CHECK(u.curve.back().iter == 19);
      for (const auto& p : u.curve) CHECK(std::isfinite(p.rec));
      // A unit whose start loss is tiny (the 8-bit first layer on the image) has nothing to win.
      if (u.curve.front().rec >= 0.01 * first) CHECK(lowest_rec(u) < 0.9 * u.curve.front().rec);
    }
    CHECK(sum(after) < sum(before));
  }
}

// With a fixed objective (no AdaRound regularizer, tau held at 1, no mixing, fixed activation
// steps, the full calibration set every step) the logged loss must end below its start.
TEST_CASE("quant reconstruct: with a fixed objective the logged loss ends lower than it starts") {
  const Tensor calib = calib_images(8);
  for (Axes c : kAllScopes) {
    CAPTURE(to_string(c.scope));
    CAPTURE(to_string(c.rounding));
    QuantConfig config = short_config(c.scope, c.rounding, Mixing::None);
    config.lambda = 0;
    config.tau_start = config.tau_end = 1;
    config.learn_act_steps = false;
    auto qm = prepare_tiny(config, calib);
    calibrate(*qm, calib);
    std::vector<UnitLog> logs = reconstruct(*qm, calib, quiet());
    double first = 0, last = 0;
    for (const auto& u : logs) first += u.curve.front().rec, last += u.curve.back().rec;
    for (const auto& u : logs) {
      CAPTURE(u.name);
      for (const auto& p : u.curve) CHECK(p.reg == 0);
      if (u.curve.front().rec >= 0.01 * first) CHECK(u.curve.back().rec < u.curve.front().rec);
    }
    CHECK(last < 0.9 * first);
  }
}

TEST_CASE("quant reconstruct: BRECQ learns the activation steps in a second pass") {
  const Tensor calib = calib_images(8);
  QuantConfig config = preset_config("brecq", "resnet20");
  config.wbits = 2, config.calib = 8, config.init_images = 8, config.batch = 8, config.iters = 8;
  auto qm = prepare_tiny(config, calib);
  calibrate(*qm, calib);
  std::vector<double> steps;
  for (const auto& a : qm->acts()) steps.push_back(a.quantizer->scale.item());
  std::vector<UnitLog> logs = reconstruct(*qm, calib, quiet());
  std::vector<std::string> names;
  for (const auto& u : logs) names.push_back(u.name);
  const std::vector<std::string> expected = {"block stem", "block layer1.0", "block layer2.0",
                                             "block head", "acts stem",       "acts layer1.0",
                                             "acts layer2.0"};
  CHECK(names == expected);
  CHECK(logs.back().iters == 2);  // a quarter of the iterations
  for (const auto& e : qm->layers()) CHECK(e.layer->mode() == QuantLayer::Mode::Hard);
  size_t moved = 0;
  for (size_t i = 0; i < qm->acts().size(); ++i) {
    CHECK(qm->acts()[i].quantizer->state == ActQuantizer::State::On);
    moved += qm->acts()[i].quantizer->scale.item() != steps[i];
  }
  CHECK(moved == qm->acts().size());
}

// prepare + calibrate + reconstruct from the same weights; returns the output on a fixed input.
Tensor full_run(const QuantConfig& config, std::vector<float>& codes, std::vector<float>& steps) {
  const Tensor calib = calib_images(8);
  auto qm = prepare_tiny(config, calib.slice(0, 0, 2));
  calibrate(*qm, calib);
  reconstruct(*qm, calib, quiet());
  codes = all_codes(*qm);
  steps.clear();
  for (const auto& a : qm->acts()) steps.push_back(float(a.quantizer->scale.item()));
  return forward_no_grad(*qm, calib_images(3, 5));
}

TEST_CASE("quant reconstruct: the same seed gives the same bits, another seed other codes") {
  for (std::string method : {"nwq", "qdrop"}) {
    CAPTURE(method);
    QuantConfig config = preset_config(method, "resnet20");
    config.wbits = 2, config.calib = 8, config.init_images = 8;
    config.batch = 4;  // half the images per step: the seed picks the batches
    config.iters = 8;
    config.lr_round = 1e-2;
    config.seed = 5;
    std::vector<float> codes1, codes2, codes3, steps1, steps2, steps3;
    Tensor y1 = full_run(config, codes1, steps1);
    Tensor y2 = full_run(config, codes2, steps2);
    CHECK(test::same_bytes(y1, y2));
    CHECK(codes1 == codes2);
    CHECK(steps1 == steps2);
    config.seed = 6;
    Tensor y3 = full_run(config, codes3, steps3);
    REQUIRE(codes3.size() == codes1.size());
    size_t differ = 0;
    for (size_t i = 0; i < codes1.size(); ++i) differ += codes1[i] != codes3[i];
    INFO(differ, " of ", codes1.size(), " codes differ with another seed");
    CHECK(differ > 0);
    CHECK_FALSE(test::same_bytes(y1, y3));
  }
}

TEST_CASE("quant reconstruct: a NaN in the data stops calibration and reconstruction by name") {
  const Tensor calib = calib_images(8);
  Tensor bad = calib.clone();
  bad.data<float>()[3 * 64 + 10] = NAN;  // image 3
  {
    auto qm = prepare_tiny(short_config(Scope::Network, Rounding::ASoftmax, Mixing::AMixup), calib);
    CHECK_THROWS_WITH_AS(calibrate(*qm, bad), doctest::Contains("non-finite"), Error);
  }
  struct Case {
    Scope scope;
    Rounding rounding;
    Mixing mixing;
    const char* unit;
  };
  for (Case c : {Case{Scope::Network, Rounding::ASoftmax, Mixing::AMixup, "network"},
                 Case{Scope::Block, Rounding::AdaRound, Mixing::QDrop, "block stem"},
                 Case{Scope::Layer, Rounding::AdaRound, Mixing::None, "conv1"}}) {
    CAPTURE(c.unit);
    auto qm = prepare_tiny(short_config(c.scope, c.rounding, c.mixing), calib);
    calibrate(*qm, calib);
    try {
      reconstruct(*qm, bad, quiet());
      FAIL_CHECK("reconstruct did not throw");
    } catch (const Error& e) {
      const std::string what = e.what();
      CAPTURE(what);
      CHECK(what.find(str("reconstruction of ", c.unit, ":")) != std::string::npos);
      CHECK(what.find("iteration 1 of 20") != std::string::npos);
      CHECK(what.find("nan") != std::string::npos);
    }
  }
}

TEST_CASE("quant reconstruct: zero iterations leave the nearest codes") {
  const Tensor calib = calib_images(8);
  for (Axes c : kAllScopes) {
    CAPTURE(to_string(c.scope));
    CAPTURE(to_string(c.rounding));
    auto qm = prepare_tiny(short_config(c.scope, c.rounding, c.mixing, 0), calib);
    calibrate(*qm, calib);
    const std::vector<float> nearest = all_codes(*qm);
    const Tensor before = forward_no_grad(*qm, calib);
    reconstruct(*qm, calib, quiet());
    CHECK(all_codes(*qm) == nearest);
    CHECK(test::same_bytes(forward_no_grad(*qm, calib), before));
    for (const auto& e : qm->layers()) CHECK(e.layer->share_away_from_nearest() == 0.0);
  }
}

namespace {

// n random 1x8x8 images with labels i % 10.
class TinyImages : public Dataset {
 public:
  explicit TinyImages(int64_t n) : images_(test::rand32({n, 1, 8, 8}, 90)) {}
  int64_t size() const override { return images_.size(0); }
  std::vector<int64_t> sample_shape() const override { return {1, 8, 8}; }
  int64_t label(int64_t index) const override { return index % 10; }
  int num_classes() const override { return 10; }
  void get(int64_t index, float* dst, Rng&) const override {
    std::copy_n(images_.data<float>() + index * 64, 64, dst);
  }
  Tensor image(int64_t index) const { return images_.slice(0, index, index + 1).contiguous(); }

 private:
  Tensor images_;
};

}  // namespace

TEST_CASE("quant pipeline: run_quantize reports every stage; calibration draws are seeded") {
  TinyImages data(40);
  QuantizeJob job;
  job.model = std::make_shared<TinyResNet>(3);
  job.model_name = job.weights = job.data_name = "tiny";
  job.calib_source = &data;
  job.test = &data;
  job.config = short_config(Scope::Block, Rounding::AdaRound, Mixing::QDrop, 6);
  job.config.calib = 16, job.config.init_images = 8, job.config.seed = 4;
  job.workers = 1;
  job.progress = false;
  EvalOptions eo;
  eo.workers = 1;
  eo.progress = false;
  CHECK_THROWS_WITH_AS(run_quantize(job), doctest::Contains("QuantizeJob::evaluate is not set"),
                       Error);
  job.evaluate = top1_evaluator(eo);
  QuantizeResult r = run_quantize(job);

  TinyResNet fresh(3);
  CHECK(r.fp_top1 == evaluate(fresh, data, eo).top1);
  CHECK(r.quant_top1 >= 0);
  CHECK(r.quant_top1 <= 100);
  CHECK(evaluate(*r.model, data, eo).top1 == r.quant_top1);  // evaluation never mixes
  for (const auto& e : r.model->layers()) CHECK(e.layer->mode() == QuantLayer::Mode::Hard);

  const Json& report = r.report;
  CHECK(report.at("config") == job.config.to_json());
  CHECK(report.at("model").as_string() == "tiny");
  const Json& errors = report.at("block_errors");
  REQUIRE(errors.size() == r.model->num_blocks());
  for (size_t b = 0; b < errors.size(); ++b) {
    CHECK(errors[b].at("block").as_string() == r.model->block_name(b));
    CHECK(errors[b].at("before").as_double() >= 0);
    CHECK(errors[b].at("after").as_double() >= 0);
  }
  REQUIRE(report.at("layers").size() == r.model->layers().size());
  CHECK(report.at("layers")[0].at("bits").as_int64() == 8);
  CHECK(report.at("layers")[1].at("bits").as_int64() == 2);
  CHECK(report.at("activations").size() == r.model->acts().size());
  CHECK(report.at("units").size() == r.model->num_blocks());

  // Calibration images: config.calib distinct images of the source, the same for the same seed.
  Tensor a = load_calibration(data, job.config, Device::cpu(), 1);
  Tensor b = load_calibration(data, job.config, Device::cpu(), 2);
  REQUIRE(a.sizes() == Shape{16, 1, 8, 8});
  CHECK(test::same_bytes(a, b));
  std::vector<int64_t> picked;
  for (int64_t i = 0; i < 16; ++i)
    for (int64_t j = 0; j < data.size(); ++j)
      if (test::same_bytes(a.slice(0, i, i + 1).contiguous(), data.image(j))) picked.push_back(j);
  REQUIRE(picked.size() == 16);
  std::sort(picked.begin(), picked.end());
  CHECK(std::adjacent_find(picked.begin(), picked.end()) == picked.end());
  QuantConfig other = job.config;
  other.seed = 5;
  CHECK_FALSE(test::same_bytes(load_calibration(data, other, Device::cpu(), 1), a));
  other.calib = 41;
  CHECK_THROWS_WITH_AS(load_calibration(data, other, Device::cpu(), 1),
                       doctest::Contains("--calib"), Error);
}

TEST_CASE("quant reconstruct: cached FP targets (--cache-fp) give the same result as on the fly") {
  QuantConfig config = preset_config("nwq", "resnet20");
  config.wbits = 2, config.calib = 8, config.init_images = 8;
  config.batch = 4, config.iters = 8, config.lr_round = 1e-2, config.seed = 3;
  std::vector<float> codes1, codes2, steps1, steps2;
  Tensor y1 = full_run(config, codes1, steps1);
  config.cache_fp = true;
  Tensor y2 = full_run(config, codes2, steps2);
  CHECK(codes1 == codes2);
  CHECK(steps1 == steps2);
  CHECK(test::same_bytes(y1, y2));
}
