// The integer engine of deploy/int_engine.h: compiles the QDQ graph of a quantized model into a
// list of steps (integer layers, requantizations, float steps) and runs them on a batch.
#include "deploy/int_engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "deploy/int_code_steps.h"
#include "deploy/int_conv.h"
#include "deploy/int_layer_steps.h"
#include "ops/activation.h"
#include "ops/conv2d.h"
#include "ops/elementwise.h"
#include "ops/linear.h"
#include "ops/pool.h"
#include "ops/shape.h"

namespace nwq {

Tensor dequantize_act(const IntEngine::Codes& c) {
  Tensor t = Tensor::empty(c.shape);
  float* y = t.data<float>();
  const float z = float(c.zero_point);
  for (size_t i = 0; i < c.data.size(); ++i) y[i] = (float(c.data[i]) - z) * c.scale;
  return t;
}

namespace {

const OnnxAttribute* find_attr(const OnnxNode& n, const std::string& name) {
  for (const auto& a : n.attributes) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

std::vector<int64_t> ints_attr(const OnnxNode& n, const std::string& name, std::vector<int64_t> dflt) {
  const OnnxAttribute* a = find_attr(n, name);
  return a ? a->ints : dflt;
}

int64_t int_attr(const OnnxNode& n, const std::string& name, int64_t dflt) {
  const OnnxAttribute* a = find_attr(n, name);
  return a ? a->i : dflt;
}

}  // namespace

// ---------------------------------------------------------------- the compiler

struct IntEngine::Compiler {
  IntEngine& e;
  const OnnxGraph& g;
  std::map<std::string, const OnnxTensor*> init;
  std::map<std::string, std::vector<size_t>> consumers;
  std::map<std::string, size_t> producer;  // value -> the node that writes it
  std::vector<bool> folded;  // nodes already part of an earlier step
  struct CodesMeta {
    float scale;
    int zero_point, qmax;
  };
  std::map<std::string, CodesMeta> codes;  // values that are codes, known when compiling
  struct Weight {
    const OnnxTensor* codes;
    std::vector<float> scale;
    std::vector<uint8_t> zero_point;
  };
  std::map<std::string, Weight> weights;  // outputs of DequantizeLinear on weight codes
  std::map<std::string, int> slots;       // graph value -> its slot in Env
  std::vector<std::vector<int>> reads;    // per step: the slots it reads

  Compiler(IntEngine& engine, const OnnxGraph& graph)
      : e(engine), g(graph), folded(graph.nodes.size(), false) {
    for (const auto& t : g.initializers) init[t.name] = &t;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      for (const auto& in : g.nodes[i].inputs) consumers[in].push_back(i);
      for (const auto& out : g.nodes[i].outputs) producer[out] = i;
    }
  }

  const OnnxTensor& initializer(const std::string& name) const {
    auto it = init.find(name);
    NWQ_CHECK(it != init.end(), "int engine: '", name, "' is not a constant");
    return *it->second;
  }
  std::vector<float> floats(const std::string& name) const {
    const OnnxTensor& t = initializer(name);
    NWQ_CHECK(t.type == OnnxType::Float, "int engine: '", name, "' is not float");
    std::vector<float> v(t.raw.size() / 4);
    std::memcpy(v.data(), t.raw.data(), v.size() * 4);
    return v;
  }
  std::vector<int64_t> int64s(const std::string& name) const {
    const OnnxTensor& t = initializer(name);
    NWQ_CHECK(t.type == OnnxType::Int64, "int engine: '", name, "' is not INT64");
    std::vector<int64_t> v(t.raw.size() / 8);
    std::memcpy(v.data(), t.raw.data(), v.size() * 8);
    return v;
  }
  const std::vector<uint8_t>& bytes(const std::string& name) const {
    const OnnxTensor& t = initializer(name);
    NWQ_CHECK(t.type == OnnxType::Uint8, "int engine: '", name, "' is not UINT8 codes");
    return t.raw;
  }
  // The only consumer of `value`, or -1.
  long sole_consumer(const std::string& value) const {
    auto it = consumers.find(value);
    return it != consumers.end() && it->second.size() == 1 ? long(it->second[0]) : -1;
  }

  // QuantizeLinear at node q -> DequantizeLinear [-> Clip]: the codes' output name, grid and the
  // nodes it spans. False when the pattern is not there.
  struct QuantSpec {
    std::string out;
    CodesMeta meta;
    std::vector<size_t> nodes;
  };
  bool quant_spec(size_t q, QuantSpec* spec) const {
    const OnnxNode& nq = g.nodes[q];
    if (nq.op_type != "QuantizeLinear") return false;
    const long dq = sole_consumer(nq.outputs[0]);
    if (dq < 0 || g.nodes[size_t(dq)].op_type != "DequantizeLinear") return false;
    const float s = floats(nq.inputs[1]).at(0);
    const int z = bytes(nq.inputs[2]).at(0);
    spec->meta = {s, z, 255};
    spec->nodes = {q, size_t(dq)};
    spec->out = g.nodes[size_t(dq)].outputs[0];
    const long clip = sole_consumer(spec->out);
    if (clip >= 0 && g.nodes[size_t(clip)].op_type == "Clip") {
      const OnnxNode& nc = g.nodes[size_t(clip)];  // hi = (qmax - z) * s exactly (the emitter's)
      spec->meta.qmax = int(std::lround(double(floats(nc.inputs[2]).at(0)) / s)) + z;
      NWQ_CHECK(spec->meta.qmax > 0 && spec->meta.qmax <= 255, "int engine: clip ", nc.name,
                " gives codes up to ", spec->meta.qmax);
      spec->nodes.push_back(size_t(clip));
      spec->out = nc.outputs[0];
    }
    return true;
  }

  int slot(const std::string& value) {
    auto it = slots.find(value);
    if (it != slots.end()) return it->second;
    const int s = int(slots.size());
    slots[value] = s;
    return s;
  }
  void step(const std::string& label, std::vector<int> in, std::function<void(Env&)> f) {
    e.steps_.push_back({label, std::move(f), {}});
    reads.push_back(std::move(in));
  }
  // After the last step that reads a slot (other than the output), its value is dropped.
  void plan_releases(int output) {
    std::vector<int> last(slots.size(), -1);
    for (size_t i = 0; i < reads.size(); ++i)
      for (int s : reads[i]) last[size_t(s)] = int(i);
    for (size_t s = 0; s < last.size(); ++s)
      if (last[s] >= 0 && int(s) != output) e.steps_[size_t(last[s])].release.push_back(int(s));
  }

  void compile() {
    // Weights first: the head's pattern looks ahead to a Gemm whose weight comes later.
    for (const OnnxNode& n : g.nodes) {
      if (n.op_type != "DequantizeLinear" || !init.count(n.inputs[0])) continue;
      Weight w{&initializer(n.inputs[0]), floats(n.inputs[1]), bytes(n.inputs[2])};
      NWQ_CHECK(w.codes->type == OnnxType::Uint8, "int engine: ", n.name, " needs UINT8 codes");
      weights[n.outputs[0]] = w;
    }
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      if (folded[i]) continue;
      const OnnxNode& n = g.nodes[i];
      if (n.op_type == "QuantizeLinear") {
        quantize(i);
      } else if (n.op_type == "DequantizeLinear") {
        NWQ_CHECK(weights.count(n.outputs[0]), "int engine: ", n.name, " dequantizes a non-constant");
      } else if (n.op_type == "Conv" || n.op_type == "Gemm") {
        layer(i);
      } else {
        float_op(i);
      }
    }
  }

  void quantize(size_t i) {
    QuantSpec spec;
    NWQ_CHECK(quant_spec(i, &spec), "int engine: ", g.nodes[i].name,
              " is not a QuantizeLinear -> DequantizeLinear pair");
    for (size_t k : spec.nodes) folded[k] = true;
    codes[spec.out] = spec.meta;
    const int in = slot(g.nodes[i].inputs[0]), out = slot(spec.out);
    const CodesMeta m = spec.meta;
    ++e.stats_.float_steps;
    step("quantize", {in}, [in, out, m](Env& env) {
      env[size_t(out)].codes = quantize_floats(as_float(env, in), {m.scale, m.zero_point, m.qmax}, false);
    });
  }

  static Tensor as_float(Env& env, int s) {
    Value& v = env[size_t(s)];
    if (!v.f.defined()) v.f = dequantize_act(*v.codes);
    return v.f;
  }

  void layer(size_t i) {
    const OnnxNode& n = g.nodes[i];
    auto wi = weights.find(n.inputs.at(1));
    NWQ_CHECK(wi != weights.end(), "int engine: ", n.name, " has no quantized weight");
    const Weight& w = wi->second;
    const std::vector<float> bias = floats(n.inputs.at(2));
    const bool conv = n.op_type == "Conv";
    const std::vector<int64_t> wd = w.codes->dims;
    const int64_t out_ch = wd[0];
    NWQ_CHECK(int64_t(bias.size()) == out_ch && int64_t(w.scale.size()) == out_ch,
              "int engine: ", n.name, ": one bias and scale per output channel expected");
    IntConvShape shape{};
    shape.channels = conv ? wd[1] * int_attr(n, "group", 1) : wd[1];
    shape.kernel_h = conv ? wd[2] : 1, shape.kernel_w = conv ? wd[3] : 1;
    const std::vector<int64_t> st = ints_attr(n, "strides", {1, 1}), pd = ints_attr(n, "pads", {0, 0, 0, 0}),
                               dl = ints_attr(n, "dilations", {1, 1});
    shape.stride_h = st[0], shape.stride_w = st[1], shape.pad_h = pd[0], shape.pad_w = pd[1];
    shape.dilation_h = dl[0], shape.dilation_w = dl[1];
    shape.groups = conv ? int_attr(n, "group", 1) : 1;
    if (!codes.count(n.inputs[0])) return float_layer(n, w, bias, shape);
    int_layer(i, w, bias, shape);
  }

  // The first layer: its input (the image) is not quantized, so it runs as fake-quant does.
  void float_layer(const OnnxNode& n, const Weight& w, const std::vector<float>& bias,
                   const IntConvShape& shape) {
    const std::vector<int64_t>& d = w.codes->dims;
    const Shape per_channel = {d[0]};
    const Tensor wq = dequantize_codes(
        Tensor::from_vector(std::vector<float>(w.codes->raw.begin(), w.codes->raw.end()), Shape(d.begin(), d.end())),
        Tensor::from_vector(w.scale, per_channel),
        Tensor::from_vector(std::vector<float>(w.zero_point.begin(), w.zero_point.end()), per_channel));
    const Tensor b = Tensor::from_vector(bias, per_channel);
    Conv2dParams p;
    p.stride_h = int(shape.stride_h), p.stride_w = int(shape.stride_w);
    p.pad_h = int(shape.pad_h), p.pad_w = int(shape.pad_w);
    p.dilation_h = int(shape.dilation_h), p.dilation_w = int(shape.dilation_w);
    p.groups = int(shape.groups);
    const bool conv = n.op_type == "Conv";
    const int in = slot(n.inputs[0]), out = slot(n.outputs[0]);
    ++e.stats_.float_layers;
    e.stats_.float_layer_names.push_back(n.name);
    step(str("float ", n.op_type), {in}, [=](Env& env) {
      const Tensor x = as_float(env, in);
      env[size_t(out)].f = conv ? conv2d(x, wq, b, p) : linear(x, wq, b);
    });
  }

  // A layer on codes; requantized to the next quantizer's codes when the graph allows.
  void int_layer(size_t i, const Weight& w, const std::vector<float>& bias, IntConvShape shape) {
    const OnnxNode& n = g.nodes[i];
    const CodesMeta in_meta = codes.at(n.inputs[0]);
    const int64_t out_ch = w.codes->dims[0], k = shape.k();
    NWQ_CHECK(int64_t(w.codes->raw.size()) == out_ch * k, "int engine: ", n.name, " weight size");
    NWQ_CHECK(k <= kIntConvMaxK, "int engine: ", n.name, " sums ", k, " products (at most ", kIntConvMaxK, ")");
    auto packed = std::make_shared<const IntConvWeights>(
        pack_int_conv(e.isa_, shape, out_ch, w.codes->raw.data(), w.zero_point.data(), in_meta.zero_point));
    e.stats_.packed_weight_bytes += packed->bytes();
    std::vector<double> mult(static_cast<size_t>(out_ch));
    for (int64_t o = 0; o < out_ch; ++o) mult[size_t(o)] = double(in_meta.scale) * double(w.scale[size_t(o)]);

    // Conv [-> Relu | Clip(0, 6)] -> QuantizeLinear -> DequantizeLinear [-> Clip]: requantize.
    std::vector<size_t> chain;
    std::string act;
    long next = sole_consumer(n.outputs[0]);
    if (next >= 0 && (g.nodes[size_t(next)].op_type == "Relu" || g.nodes[size_t(next)].op_type == "Clip")) {
      act = g.nodes[size_t(next)].op_type;
      chain.push_back(size_t(next));
      next = sole_consumer(g.nodes[size_t(next)].outputs[0]);
    }
    QuantSpec spec;
    std::vector<ChannelRequant> req(static_cast<size_t>(out_ch));
    bool fuse = next >= 0 && quant_spec(size_t(next), &spec);
    int lo = 0, hi = spec.meta.qmax;
    if (fuse && act == "Clip") {  // ReLU6 (or any Clip with constant bounds)
      const float cl = floats(g.nodes[chain[0]].inputs[1]).at(0), ch = floats(g.nodes[chain[0]].inputs[2]).at(0);
      const float s = spec.meta.scale, z = float(spec.meta.zero_point);
      lo = int(std::max(0.f, std::nearbyint(cl / s) + z));
      hi = int(std::min(float(hi), std::nearbyint(ch / s) + z));
    } else if (fuse && act == "Relu") {
      lo = spec.meta.zero_point;
    }
    for (int64_t o = 0; fuse && o < out_ch; ++o)
      fuse = make_requant(mult[size_t(o)] / double(spec.meta.scale),
                          double(bias[size_t(o)]) / double(spec.meta.scale), &req[size_t(o)]);

    IntLayerPlan plan{packed, n.op_type == "Conv", mult, bias};
    const int in = slot(n.inputs[0]);
    ++e.stats_.int_layers;
    if (fuse) {
      for (size_t c : chain) folded[c] = true;
      for (size_t c : spec.nodes) folded[c] = true;
      codes[spec.out] = spec.meta;
      ++e.stats_.requantized;
      const IntCodesGrid grid{spec.meta.scale, spec.meta.zero_point, spec.meta.qmax};
      step(str("int ", n.op_type, " -> codes"), {in}, requant_step(plan, in, slot(spec.out), req, grid, lo, hi));
      return;
    }
    ResidualSpec res;
    if (residual_spec(i, &res)) {
      folded[res.add] = true;
      if (res.relu) folded[res.relu_node] = true;
      for (size_t c : res.quant.nodes) folded[c] = true;
      codes[res.quant.out] = res.quant.meta;
      e.stats_.float_steps += 2 + res.relu;  // the add, the ReLU and the quantizer, fused
      const IntCodesGrid grid{res.quant.meta.scale, res.quant.meta.zero_point, res.quant.meta.qmax};
      const int other = slot(res.other);
      step(str("int ", n.op_type, " + residual -> codes"), {in, other},
           residual_step(plan, in, other, res.relu, slot(res.quant.out), grid));
      return;
    }
    step(str("int ", n.op_type, " -> float"), {in}, float_step(plan, in, slot(n.outputs[0])));
  }

  // Layer i -> Add(other) [-> Relu] -> QuantizeLinear -> DequantizeLinear [-> Clip], where the
  // other input is computed before layer i: one residual step.
  struct ResidualSpec {
    size_t add = 0, relu_node = 0;
    bool relu = false;
    std::string other;
    QuantSpec quant;
  };
  bool residual_spec(size_t i, ResidualSpec* r) const {
    const long add = sole_consumer(g.nodes[i].outputs[0]);
    if (add < 0 || g.nodes[size_t(add)].op_type != "Add") return false;
    const OnnxNode& na = g.nodes[size_t(add)];
    r->add = size_t(add);
    r->other = na.inputs.at(0) == g.nodes[i].outputs[0] ? na.inputs.at(1) : na.inputs.at(0);
    auto p = producer.find(r->other);
    if (p == producer.end() || p->second >= i || init.count(r->other)) return false;
    long next = sole_consumer(na.outputs[0]);
    if (next >= 0 && g.nodes[size_t(next)].op_type == "Relu") {
      r->relu = true, r->relu_node = size_t(next);
      next = sole_consumer(g.nodes[size_t(next)].outputs[0]);
    }
    return next >= 0 && quant_spec(size_t(next), &r->quant);
  }

  // GlobalAveragePool(codes) -> Flatten -> Gemm (the head; its layer is 8-bit by default):
  // acc[n][o] = sum_c (sum_hw (x - z_x)) (w[o][c] - z_w[o]) in int64, y = acc s_x s_w / HW + b.
  bool int_head(size_t gap) {
    const OnnxNode& n = g.nodes[gap];
    const long fl = sole_consumer(n.outputs[0]);
    if (!codes.count(n.inputs[0]) || fl < 0 || g.nodes[size_t(fl)].op_type != "Flatten") return false;
    const long gm = sole_consumer(g.nodes[size_t(fl)].outputs[0]);
    if (gm < 0 || g.nodes[size_t(gm)].op_type != "Gemm") return false;
    const OnnxNode& lin = g.nodes[size_t(gm)];
    auto wi = weights.find(lin.inputs.at(1));
    if (wi == weights.end()) return false;
    folded[size_t(fl)] = folded[size_t(gm)] = true;
    const Weight& w = wi->second;
    const int64_t out_ch = w.codes->dims[0], k = w.codes->dims[1];
    const std::vector<float> bias = floats(lin.inputs.at(2));
    const CodesMeta in_meta = codes.at(n.inputs[0]);
    std::vector<int> w_int(size_t(out_ch * k));
    std::vector<double> mult(static_cast<size_t>(out_ch));
    for (int64_t o = 0; o < out_ch; ++o) {
      mult[size_t(o)] = double(in_meta.scale) * double(w.scale[size_t(o)]);
      for (int64_t j = 0; j < k; ++j)
        w_int[size_t(o * k + j)] = int(w.codes->raw[size_t(o * k + j)]) - w.zero_point[size_t(o)];
    }
    const int in = slot(n.inputs[0]), out = slot(lin.outputs[0]);
    ++e.stats_.int_layers;
    step("int head", {in}, [=](Env& env) {
      const Codes& x = *env[size_t(in)].codes;
      NWQ_CHECK(x.shape.size() == 4 && x.shape[1] == k, "int engine: head input ", shape_str(x.shape));
      const int64_t batch = x.shape[0], hw = x.shape[2] * x.shape[3];
      Tensor y = Tensor::empty({batch, out_ch});
      std::vector<int64_t> sums(static_cast<size_t>(k));
      for (int64_t img = 0; img < batch; ++img) {
        for (int64_t c = 0; c < k; ++c) {
          const uint8_t* v = x.data.data() + (img * k + c) * hw;
          int64_t s = 0;
          for (int64_t j = 0; j < hw; ++j) s += int(v[j]) - x.zero_point;
          sums[size_t(c)] = s;
        }
        for (int64_t o = 0; o < out_ch; ++o) {
          int64_t acc = 0;
          for (int64_t c = 0; c < k; ++c) acc += sums[size_t(c)] * w_int[size_t(o * k + c)];
          y.data<float>()[img * out_ch + o] =
              float(double(acc) * mult[size_t(o)] / double(hw)) + bias[size_t(o)];
        }
      }
      env[size_t(out)].f = y;
    });
    return true;
  }

  static Pool2dParams pool_params(const OnnxNode& n) {
    Pool2dParams p;
    const std::vector<int64_t> k = ints_attr(n, "kernel_shape", {}), s = ints_attr(n, "strides", {1, 1}),
                               pd = ints_attr(n, "pads", {0, 0, 0, 0});
    NWQ_CHECK(k.size() == 2, "int engine: ", n.name, " needs a 2-D kernel");
    p.kernel_h = int(k[0]), p.kernel_w = int(k[1]), p.stride_h = int(s[0]), p.stride_w = int(s[1]);
    p.pad_h = int(pd[0]), p.pad_w = int(pd[1]), p.ceil_mode = int_attr(n, "ceil_mode", 0) != 0;
    return p;
  }

  // Relu -> quantizer, or MaxPool on codes -> quantizer: one step that writes the quantizer's
  // codes (deploy/int_code_steps.h), the same codes as the float steps one by one.
  bool fused_to_codes(size_t i) {
    const OnnxNode& n = g.nodes[i];
    const long q = sole_consumer(n.outputs[0]);
    QuantSpec spec;
    if (q < 0 || !quant_spec(size_t(q), &spec)) return false;
    const IntCodesGrid grid{spec.meta.scale, spec.meta.zero_point, spec.meta.qmax};
    const int in = slot(n.inputs[0]), out = slot(spec.out);
    if (n.op_type == "MaxPool") {
      auto it = codes.find(n.inputs[0]);
      const Pool2dParams p = pool_params(n);
      if (it == codes.end() || p.ceil_mode) return false;
      const std::vector<uint8_t> table =
          regrid_table({it->second.scale, it->second.zero_point, it->second.qmax}, grid);
      step("MaxPool on codes -> codes", {in}, [=](Env& env) {
        env[size_t(out)].codes = max_pool_codes(*env[size_t(in)].codes, p, table, grid);
      });
    } else {
      step("float Relu -> codes", {in}, [=](Env& env) {
        env[size_t(out)].codes = quantize_floats(as_float(env, in), grid, true);
      });
    }
    for (size_t k : spec.nodes) folded[k] = true;
    codes[spec.out] = spec.meta;
    e.stats_.float_steps += 2;
    return true;
  }

  // The float steps, with the ops nwq's own forward uses.
  void float_op(size_t i) {
    const OnnxNode& n = g.nodes[i];
    if ((n.op_type == "Relu" || n.op_type == "MaxPool") && fused_to_codes(i)) return;
    const std::string op = n.op_type;
    const std::vector<std::string> in = n.inputs;  // in[1..]: constants, except for Add
    const int x0 = slot(in[0]), x1 = op == "Add" ? slot(in.at(1)) : -1, out = slot(n.outputs[0]);
    std::function<Tensor(Env&)> f;
    if (op == "Relu") {
      f = [x0](Env& env) { return relu(as_float(env, x0)); };
    } else if (op == "Clip") {
      const double lo = floats(in[1]).at(0), hi = floats(in[2]).at(0);
      f = [x0, lo, hi](Env& env) { return clamp(as_float(env, x0), lo, hi); };
    } else if (op == "Add") {
      f = [x0, x1](Env& env) { return add(as_float(env, x0), as_float(env, x1)); };
    } else if (op == "GlobalAveragePool") {
      if (int_head(i)) return;
      f = [x0](Env& env) { return adaptive_avg_pool2d(as_float(env, x0), 1, 1); };
    } else if (op == "Flatten") {
      const int64_t axis = int_attr(n, "axis", 1);
      f = [x0, axis](Env& env) { return flatten(as_float(env, x0), axis); };
    } else if (op == "MaxPool") {
      const Pool2dParams p = pool_params(n);
      f = [x0, p](Env& env) { return max_pool2d(as_float(env, x0), p); };
    } else if (op == "Slice") {  // option-A shortcut: steps k on H and W
      const int64_t k = int64s(in.at(4)).at(0);
      f = [x0, k](Env& env) { return subsample_spatial(as_float(env, x0), k); };
    } else if (op == "Pad") {  // option-A shortcut: pads [0, c, 0, 0, 0, c, 0, 0]
      const int64_t c = int64s(in.at(1)).at(1);
      f = [x0, c](Env& env) { return pad_channels(as_float(env, x0), c, c); };
    } else {
      throw Error(str("int engine: no step for ", op, " node '", n.name, "'"));
    }
    ++e.stats_.float_steps;
    std::vector<int> ins = {x0};
    if (x1 >= 0) ins.push_back(x1);
    step(str("float ", op), ins, [f, out](Env& env) { env[size_t(out)].f = f(env); });
  }
};

// ---------------------------------------------------------------- the engine

IntEngine::IntEngine(QuantModel& qm, const std::string& model_name, const OnnxExportOptions& input,
                     IntIsa isa)
    : isa_(isa) {
  NWQ_CHECK(int_isa_supported(isa), "int engine: this CPU does not run ", int_isa_name(isa));
  OnnxExportOptions o = input;
  o.uint4_weights = false;  // every code one byte
  const OnnxModel om = quantized_to_onnx(qm, model_name, o);
  Compiler c(*this, om.graph);
  input_ = c.slot(om.graph.inputs.at(0).name);
  c.compile();
  output_ = c.slot(om.graph.outputs.at(0).name);
  c.plan_releases(output_);
  slots_ = int(c.slots.size());
  step_seconds_.assign(steps_.size(), 0.0);
}

std::vector<std::pair<std::string, double>> IntEngine::profile() const {
  std::vector<std::pair<std::string, double>> out;
  for (size_t i = 0; i < steps_.size(); ++i) {
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& p) { return p.first == steps_[i].label; });
    if (it == out.end()) out.push_back({steps_[i].label, step_seconds_[i]});
    else it->second += step_seconds_[i];
  }
  return out;
}

Tensor IntEngine::forward(const Tensor& x) {
  NWQ_CHECK(x.device().is_cpu() && x.dtype() == DType::F32, "int engine: the input must be F32 on the CPU, got ",
            x.describe());
  Env env(static_cast<size_t>(slots_));
  env[size_t(input_)].f = x.contiguous();
  for (size_t i = 0; i < steps_.size(); ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    steps_[i].run(env);
    for (int s : steps_[i].release) env[size_t(s)] = Value();
    step_seconds_[i] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  Value& y = env[size_t(output_)];
  return y.f.defined() ? y.f : dequantize_act(*y.codes);
}

}  // namespace nwq
