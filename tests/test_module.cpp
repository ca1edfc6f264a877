// Module tree: registration order and names, state_dict round trips through safetensors,
// strict-load errors, replace_child, train/eval, to(device), the simple layers and weight init.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "autograd/engine.h"
#include "models/init.h"
#include "models/layers.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "tests/helpers.h"
#include "tests/temp_dir.h"

using namespace nwq;

namespace {

using test::TempDir;

// A parameter and a buffer of its own, then body = Sequential(Linear, BatchNorm2d, ReLU) and a
// bias-free head: the listing order is scale, steps, body.*, head.*.
class TinyNet : public Module {
 public:
  explicit TinyNet(uint64_t seed) {
    Rng rng(seed);
    scale = Tensor::normal({2}, rng);
    steps = Tensor::scalar(0, DType::I64);
    body = std::make_shared<Sequential>(std::vector<ModulePtr>{
        std::make_shared<Linear>(4, 3), std::make_shared<BatchNorm2d>(3),
        std::make_shared<ReLU>()});
    head = std::make_shared<Linear>(3, 2, false);
    register_parameter("scale", &scale);
    register_buffer("steps", &steps);
    register_module("body", &body);
    register_module("head", &head);
    reset_parameters(*this, rng);
    auto* bn = dynamic_cast<BatchNorm2d*>(body->find("1").get());
    normal_(bn->running_mean, rng, 0, 0.1);
    uniform_(bn->running_var, rng, 0.5, 1.5);
  }
  Tensor forward(const Tensor& x) override { return head->forward(body->forward(x)) * scale; }
  std::string type_name() const override { return "TinyNet"; }

  Tensor scale, steps;
  ModulePtr body, head;
};

// Passes its input through and counts the calls.
class Spy : public Module {
 public:
  Tensor forward(const Tensor& x) override {
    ++calls;
    return x;
  }
  int calls = 0;
};

std::vector<std::string> names_of(const NamedTensors& tensors) {
  std::vector<std::string> names;
  for (const auto& [name, t] : tensors) names.push_back(name);
  return names;
}

NamedTensors without(NamedTensors state, const std::string& name) {
  for (size_t i = 0; i < state.size(); ++i) {
    if (state[i].first == name) state.erase(state.begin() + static_cast<long>(i));
  }
  return state;
}

Tensor& entry(NamedTensors& state, const std::string& name) {
  for (auto& [key, t] : state) {
    if (key == name) return t;
  }
  throw Error("no entry " + name);
}

// The error message of f(), or "" when it does not throw.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool bit_identical(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.sizes() != b.sizes()) return false;
  Tensor ha = a.contiguous().to(Device::cpu()), hb = b.contiguous().to(Device::cpu());
  return std::memcmp(ha.raw_data(), hb.raw_data(), ha.numel() * dtype_size(a.dtype())) == 0;
}

}  // namespace

TEST_CASE("module: registration order and dotted names follow torch") {
  TinyNet net(1);
  std::vector<std::string> params = {"scale",       "body.0.weight", "body.0.bias",
                                     "body.1.weight", "body.1.bias", "head.weight"};
  CHECK(names_of(net.named_parameters()) == params);
  CHECK(names_of(net.named_buffers()) ==
        std::vector<std::string>{"steps", "body.1.running_mean", "body.1.running_var",
                                 "body.1.num_batches_tracked"});
  CHECK(names_of(net.state_dict()) ==
        std::vector<std::string>{"scale", "steps", "body.0.weight", "body.0.bias",
                                 "body.1.weight", "body.1.bias", "body.1.running_mean",
                                 "body.1.running_var", "body.1.num_batches_tracked",
                                 "head.weight"});
  std::vector<std::string> modules, types;
  for (auto& [name, m] : net.named_modules()) {
    modules.push_back(name);
    types.push_back(m->type_name());
  }
  CHECK(modules == std::vector<std::string>{"", "body", "body.0", "body.1", "body.2", "head"});
  CHECK(types == std::vector<std::string>{"TinyNet", "Sequential", "Linear", "BatchNorm2d",
                                          "ReLU", "Linear"});
  CHECK(net.num_parameters() == 2 + 12 + 3 + 3 + 3 + 6);
  for (const Tensor& p : net.parameters()) CHECK((p.requires_grad() && p.is_leaf()));
  CHECK(net.state_dict()[8].second.dtype() == DType::I64);
  CHECK(net.state_dict()[8].second.dim() == 0);
  CHECK(net.summary().find("body.1") == std::string::npos);  // children by their own name
  CHECK(net.summary().find("1: BatchNorm2d(3, eps=1e-05, momentum=0.1)") != std::string::npos);
  CHECK_THROWS_WITH_AS(net.register_buffer("scale", &net.scale), doctest::Contains("already"),
                       Error);
  CHECK_THROWS_WITH_AS(net.register_parameter("a.b", &net.scale), doctest::Contains("'a.b'"),
                       Error);
}

TEST_CASE("module: state_dict round trip through safetensors is bit-identical") {
  TempDir dir;
  TinyNet a(1), b(2);
  a.save(dir / "tiny.safetensors", {{"model", "tiny"}});
  Tensor b_weight = dynamic_cast<Linear&>(*b.find("body.0")).weight;
  SafetensorsMetadata meta = b.load(dir / "tiny.safetensors");
  CHECK(meta == SafetensorsMetadata{{"model", "tiny"}});
  NamedTensors sa = a.state_dict(), sb = b.state_dict();
  REQUIRE(sa.size() == sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    CAPTURE(sa[i].first);
    CHECK(bit_identical(sa[i].second, sb[i].second));
  }
  // Loaded in place: the parameter is the same tensor, still a leaf that requires grad.
  CHECK(dynamic_cast<Linear&>(*b.find("body.0")).weight.same(b_weight));
  CHECK((b_weight.requires_grad() && b_weight.is_leaf()));
  a.eval();
  b.eval();
  Rng rng(3);
  Tensor x = Tensor::normal({5, 4}, rng);
  CHECK(bit_identical(a.forward(x), b.forward(x)));
}

TEST_CASE("module: strict load lists missing, unexpected and mis-shaped keys with the label") {
  TempDir dir;
  TinyNet a(1), b(2);
  NamedTensors good = a.state_dict();

  std::string path = dir / "missing.safetensors";
  save_safetensors(path, without(good, "head.weight"));
  std::string msg = error_of([&] { b.load(path); });
  CHECK(msg.find(path) != std::string::npos);
  CHECK(msg.find("1 missing key (head.weight)") != std::string::npos);

  NamedTensors extra = good;
  extra.emplace_back("body.3.weight", Tensor::zeros({2}));
  msg = error_of([&] { b.load_state_dict(extra, true, "extra.safetensors"); });
  CHECK(msg.find("extra.safetensors") != std::string::npos);
  CHECK(msg.find("1 unexpected key (body.3.weight)") != std::string::npos);

  NamedTensors shaped = good;
  entry(shaped, "body.0.weight") = Tensor::zeros({3, 5});
  msg = error_of([&] { b.load_state_dict(shaped, true, "shape.safetensors"); });
  CHECK(msg.find("shape.safetensors") != std::string::npos);
  CHECK(msg.find("body.0.weight: model float32[3, 4], given float32[3, 5]") != std::string::npos);

  // Everything in one message, counted; and nothing was written by the failed loads.
  NamedTensors all = without(shaped, "scale");
  all = without(all, "steps");
  all.emplace_back("x", Tensor::zeros({1}));
  msg = error_of([&] { b.load_state_dict(all, true, "all"); });
  CHECK(msg.find("2 missing keys (scale, steps)") != std::string::npos);
  CHECK(msg.find("1 unexpected key (x)") != std::string::npos);
  CHECK(msg.find("1 shape/dtype mismatch") != std::string::npos);
  CHECK_FALSE(bit_identical(a.scale, b.scale));
  CHECK_FALSE(bit_identical(a.state_dict()[9].second, b.state_dict()[9].second));

  // Non-strict: missing and unexpected keys are fine, a wrong shape is not.
  b.load_state_dict(without(extra, "scale"), false);
  CHECK(bit_identical(a.state_dict()[9].second, b.state_dict()[9].second));
  CHECK_FALSE(bit_identical(a.scale, b.scale));
  CHECK_THROWS_WITH_AS(b.load_state_dict(shaped, false), doctest::Contains("body.0.weight"), Error);
}

TEST_CASE("module: load accepts F64 for F32 and I64 counters only; refuses NaN by name") {
  TinyNet a(1), b(2);
  NamedTensors state = a.state_dict();
  entry(state, "body.0.weight") = entry(state, "body.0.weight").to(DType::F64);
  b.load_state_dict(state);
  CHECK(b.named_parameters()[1].second.dtype() == DType::F32);
  CHECK(bit_identical(a.named_parameters()[1].second, b.named_parameters()[1].second));

  NamedTensors counter = a.state_dict();
  entry(counter, "body.1.num_batches_tracked") = Tensor::scalar(3, DType::F32);
  CHECK_THROWS_WITH_AS(b.load_state_dict(counter, true, "c.safetensors"),
                       doctest::Contains("body.1.num_batches_tracked: model int64[], given "
                                         "float32[]"),
                       Error);

  NamedTensors bad = a.state_dict();
  Tensor w = entry(bad, "head.weight").clone();
  w.data<float>()[4] = std::numeric_limits<float>::quiet_NaN();
  entry(bad, "head.weight") = w;
  TinyNet c(2);
  CHECK_THROWS_WITH_AS(c.load_state_dict(bad, true, "nan.safetensors"),
                       doctest::Contains("nan.safetensors: tensor 'head.weight' contains NaN"),
                       Error);
  CHECK(bit_identical(c.state_dict()[2].second, TinyNet(2).state_dict()[2].second));
}

TEST_CASE("module: replace_child by dotted path is used by the parent's forward") {
  TinyNet net(1);
  net.eval();
  Rng rng(5);
  Tensor x = Tensor::normal({3, 4}, rng);
  Tensor before = net.forward(x);
  auto spy = std::make_shared<Spy>();
  net.replace_child("body.2", spy);  // the ReLU
  CHECK(net.find("body.2") == spy);
  CHECK(dynamic_cast<Sequential&>(*net.body)[2] == spy);
  CHECK_FALSE(spy->is_training());  // takes the parent's mode
  Tensor after = net.forward(x);
  CHECK(spy->calls == 1);
  // Without the ReLU the output differs exactly where a pre-activation was negative.
  Tensor pre = net.find("body.1")->forward(net.find("body.0")->forward(x));
  std::vector<float> pv = pre.to_vector<float>();
  bool any_negative = false;
  for (float v : pv) any_negative = any_negative || v < 0;
  REQUIRE(any_negative);
  CHECK_FALSE(bit_identical(before, after));

  auto head_spy = std::make_shared<Spy>();
  net.replace_child("head", head_spy);  // a direct child: the member slot itself changes
  CHECK(net.head == head_spy);
  CHECK(names_of(net.named_parameters()).back() == "body.1.bias");

  CHECK_THROWS_WITH_AS(net.replace_child("body.7", spy),
                       doctest::Contains("no module 'body.7' (body has children: 0, 1, 2)"), Error);
  CHECK_THROWS_WITH_AS(net.replace_child("tail.0", spy), doctest::Contains("'tail.0'"), Error);
  CHECK_THROWS_WITH_AS(net.find(""), doctest::Contains("no module ''"), Error);
  CHECK_THROWS_AS(net.replace_child("body.0", nullptr), Error);
  CHECK(net.contains("body.1"));
  CHECK_FALSE(net.contains("body.1.x"));
}

TEST_CASE("module: train/eval propagate; to(cpu) is a no-op; zero_grad clears") {
  TinyNet net(1);
  auto all_training = [&](bool expected) {
    for (auto& [name, m] : net.named_modules()) {
      if (m->is_training() != expected) return false;
    }
    return true;
  };
  CHECK(all_training(true));
  net.eval();
  CHECK(all_training(false));
  net.train();
  CHECK(all_training(true));

  NamedTensors before = net.state_dict();
  net.to(Device::cpu());
  NamedTensors after = net.state_dict();
  for (size_t i = 0; i < before.size(); ++i) CHECK(before[i].second.same(after[i].second));

  Rng rng(4);
  Tensor x = Tensor::normal({6, 4}, rng);
  backward(sum(net.forward(x)));
  for (const Tensor& p : net.parameters()) CHECK(p.grad().defined());
  net.zero_grad();
  for (const Tensor& p : net.parameters()) CHECK_FALSE(p.grad().defined());
}

TEST_CASE("module: BatchNorm2d counts training batches; Dropout is seeded") {
  BatchNorm2d bn(3);
  Rng rng(6);
  Tensor x = Tensor::normal({4, 3, 2, 2}, rng);
  bn.forward(x);
  bn.forward(x.view({16, 3}).contiguous());  // (N, C) inputs work too
  CHECK(bn.num_batches_tracked.item() == 2);
  bn.eval();
  bn.forward(x);
  CHECK(bn.num_batches_tracked.item() == 2);
  CHECK_THROWS_WITH_AS(bn.forward(Tensor::zeros({2, 4})), doctest::Contains("BatchNorm2d(3)"),
                       Error);

  Dropout a(0.5, 7), b(0.5, 7);
  Tensor ones = Tensor::ones({64});
  Tensor ya = a.forward(ones);
  CHECK(bit_identical(ya, b.forward(ones)));
  CHECK_FALSE(bit_identical(ya, a.forward(ones)));  // the stream moves on
  a.set_seed(7);
  CHECK(bit_identical(ya, a.forward(ones)));
  a.eval();
  CHECK(bit_identical(a.forward(ones), ones));
}

TEST_CASE("module: Sequential runs in order and is indexed like torch") {
  Sequential seq;
  auto s0 = std::make_shared<Spy>();
  seq.push_back(s0).push_back(std::make_shared<ReLU>()).push_back(std::make_shared<Flatten>());
  CHECK(seq.size() == 3);
  CHECK(seq[0] == s0);
  CHECK(seq.child("1")->type_name() == "ReLU");
  Tensor x = test::tensor({-1, 2, -3, 4}, {1, 2, 2}, DType::F32);
  CHECK(seq.forward(x).to_vector<float>() == std::vector<float>{0, 2, 0, 4});
  CHECK(seq.forward(x).sizes() == Shape{1, 4});
  CHECK(s0->calls == 2);
  CHECK_THROWS_AS(seq[3], Error);
  CHECK_THROWS_AS(seq.push_back(nullptr), Error);
  CHECK(seq.size() == 3);
  CHECK_THROWS_WITH_AS(Module().forward(x), doctest::Contains("not implemented"), Error);
}

TEST_CASE("module: a Sequential with named children (torch's OrderedDict form)") {
  Sequential seq;
  seq.push_back("a", std::make_shared<ReLU>()).push_back("block1-0", std::make_shared<Flatten>());
  CHECK(seq.size() == 2);
  CHECK(seq.child("block1-0")->type_name() == "Flatten");
  CHECK(seq[0]->type_name() == "ReLU");
  CHECK_THROWS_WITH_AS(seq.push_back("a", std::make_shared<ReLU>()),
                       doctest::Contains("'a' is already registered"), Error);
  CHECK_THROWS_WITH_AS(seq.push_back("x.y", std::make_shared<ReLU>()),
                       doctest::Contains("contain no '.'"), Error);
  CHECK(seq.size() == 2);  // the refused pushes left nothing behind
  Tensor x = test::tensor({-1, 2, -3, 4}, {1, 2, 2}, DType::F32);
  CHECK(seq.forward(x).to_vector<float>() == std::vector<float>{0, 2, 0, 4});
}

TEST_CASE("module: layer hyper-parameters are exposed and checked") {
  Conv2d conv(6, 4,
              Conv2dOptions(Size2(3, 2)).stride({2, 1}).padding({1, 0}).groups(2).bias(false));
  CHECK(conv.weight.sizes() == Shape{4, 3, 3, 2});
  CHECK_FALSE(conv.has_bias());
  CHECK(conv.in_channels() == 6);
  CHECK(conv.out_channels() == 4);
  CHECK(conv.kernel_size() == Size2(3, 2));
  CHECK(conv.params().stride_h == 2);
  CHECK(conv.params().stride_w == 1);
  CHECK(conv.params().pad_h == 1);
  CHECK(conv.params().groups == 2);
  CHECK(names_of(conv.named_parameters()) == std::vector<std::string>{"weight"});
  Conv2d plain(3, 16, 3);  // a kernel size alone: torch's defaults for the rest
  CHECK(plain.kernel_size() == Size2(3, 3));
  CHECK(plain.has_bias());
  CHECK(plain.params().stride_h == 1);
  CHECK(plain.params().pad_w == 0);
  CHECK(plain.params().dilation_h == 1);
  CHECK(plain.params().groups == 1);
  CHECK_THROWS_WITH_AS(Conv2d(6, 4, Conv2dOptions(3).groups(4)), doctest::Contains("groups 4"),
                       Error);
  CHECK_THROWS_WITH_AS(Conv2d(6, 4, Conv2dOptions(3).dilation(0)),
                       doctest::Contains("dilation 0x0"), Error);
  MaxPool2d pool(3, 0, 1);
  CHECK(pool.params().stride_h == 3);
  CHECK_THROWS_WITH_AS(MaxPool2d(2, 2, 2), doctest::Contains("MaxPool2d"), Error);
  Linear fc(5, 2);
  CHECK(names_of(fc.named_parameters()) == std::vector<std::string>{"weight", "bias"});
  CHECK(fc.in_features() == 5);
}

TEST_CASE("module: init fills follow torch's formulas") {
  Rng rng(9);
  Tensor w = Tensor::zeros({64, 32, 3, 3});
  CHECK(fan_in(w) == 288);
  CHECK(fan_out(w) == 576);
  kaiming_normal_(w, rng);
  std::vector<float> v = w.to_vector<float>();
  double sum2 = 0;
  for (float x : v) sum2 += double(x) * x;
  double std = std::sqrt(sum2 / v.size());
  CHECK(std == doctest::Approx(std::sqrt(2.0 / 288)).epsilon(0.03));

  Linear fc(100, 50);
  reset_linear(fc, rng);
  double bound = 1.0 / std::sqrt(100.0), max_w = 0, max_b = 0;
  for (float x : fc.weight.to_vector<float>()) max_w = std::max(max_w, double(std::fabs(x)));
  for (float x : fc.bias.to_vector<float>()) max_b = std::max(max_b, double(std::fabs(x)));
  CHECK(max_w <= bound);
  CHECK(max_w > 0.9 * bound);
  CHECK(max_b <= bound);
  CHECK(max_b > 0.5 * bound);

  // The same seed gives the same weights.
  TinyNet a(11), b(11);
  for (size_t i = 0; i < a.state_dict().size(); ++i) {
    CHECK(bit_identical(a.state_dict()[i].second, b.state_dict()[i].second));
  }
}
