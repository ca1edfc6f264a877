// The packed-layer steps of deploy/int_layer_steps.h: each runs run_int_conv and writes its
// tiles into the [N, C, H, W] (or [N, C]) output from both cores at once.
#include "deploy/int_layer_steps.h"

#include <cmath>

#include "core/error.h"

namespace nwq {

namespace {

using Codes = IntEngine::Codes;

Shape layer_out_shape(const IntLayerPlan& plan, const Codes& x) {
  const int64_t out_ch = plan.packed->out_ch;
  if (!plan.conv) return Shape{x.shape[0], out_ch};
  IntConvShape s = plan.packed->shape;
  s.height = x.shape[2], s.width = x.shape[3];
  return Shape{x.shape[0], out_ch, s.out_h(), s.out_w()};
}

// Runs the layer on x; column(at, row0, rows, acc) for every tile column: acc[r] is the sum of
// channel row0 + r, whose output index into [N, C, positions] is at + r * positions.
template <class Column>
void run_layer_columns(const IntLayerPlan& plan, const Codes& x, int64_t positions, const Column& column) {
  const IntConvWeights& w = *plan.packed;
  IntConvInput buf;
  prepare_int_input(w, x.data.data(), x.shape[0], plan.conv ? x.shape[2] : 1, plan.conv ? x.shape[3] : 1, &buf);
  const int64_t out_ch = w.out_ch;
  run_int_conv(w, buf, [&](int64_t row0, int rows, int64_t col0, int cols, const int32_t* acc, int ld) {
    int64_t img = col0 / positions, pos = col0 % positions;
    for (int j = 0; j < cols; ++j) {
      const int64_t at = (img * out_ch + row0) * positions + pos;
      column(at, row0, rows, acc + j * ld);
      if (++pos == positions) pos = 0, ++img;
    }
  });
}

// The same, put(index, row, acc) for every output element.
template <class Put>
void run_layer(const IntLayerPlan& plan, const Codes& x, int64_t positions, const Put& put) {
  run_layer_columns(plan, x, positions, [&](int64_t at, int64_t row0, int rows, const int32_t* acc) {
    for (int r = 0; r < rows; ++r) put(at + r * positions, row0 + r, acc[r]);
  });
}

std::shared_ptr<Codes> new_codes(const Shape& shape, const IntCodesGrid& grid) {
  auto y = std::make_shared<Codes>();
  y->shape = shape, y->scale = grid.scale, y->zero_point = grid.zero_point, y->qmax = grid.qmax;
  y->data.resize(size_t(shape_numel(shape)));
  return y;
}

}  // namespace

IntStep requant_step(const IntLayerPlan& plan, int in, int out, std::vector<ChannelRequant> req,
                     IntCodesGrid grid, int lo, int hi) {
  const RequantArrays arrays = requant_arrays(req);
  const bool vector = plan.packed->isa == IntIsa::Avx512Vnni && int_avx512dq_supported();
  return [=](IntEngine::Env& env) {
    const Codes& x = *env[size_t(in)].codes;
    auto y = new_codes(layer_out_shape(plan, x), grid);
    const int64_t positions = shape_numel(y->shape) / (y->shape[0] * plan.packed->out_ch);
    uint8_t* yd = y->data.data();
    const int z = grid.zero_point;
    run_layer_columns(plan, x, positions, [&](int64_t at, int64_t row0, int rows, const int32_t* acc) {
      requantize_channels(acc, rows, arrays, row0, z, lo, hi, yd + at, positions, vector);
    });
    env[size_t(out)].codes = y;
  };
}

IntStep float_step(const IntLayerPlan& plan, int in, int out) {
  return [=](IntEngine::Env& env) {
    const Codes& x = *env[size_t(in)].codes;
    Tensor y = Tensor::empty(layer_out_shape(plan, x));
    const int64_t positions = y.numel() / (y.size(0) * plan.packed->out_ch);
    float* yd = y.data<float>();
    run_layer(plan, x, positions, [&](int64_t at, int64_t o, int32_t acc) {
      yd[at] = float(double(acc) * plan.mult[size_t(o)]) + plan.bias[size_t(o)];
    });
    env[size_t(out)].f = y;
  };
}

IntStep residual_step(const IntLayerPlan& plan, int in, int other, bool relu, int out, IntCodesGrid grid) {
  return [=](IntEngine::Env& env) {
    const Codes& x = *env[size_t(in)].codes;
    const IntEngine::Value& o = env[size_t(other)];
    auto y = new_codes(layer_out_shape(plan, x), grid);
    const Shape& other_shape = o.codes ? o.codes->shape : o.f.sizes();
    NWQ_CHECK(other_shape == y->shape, "int engine: residual ", shape_str(other_shape), " for an output ",
              shape_str(y->shape));
    const int64_t positions = shape_numel(y->shape) / (y->shape[0] * plan.packed->out_ch);
    const Tensor of = o.codes ? Tensor() : o.f.contiguous();
    const float* other_f = o.codes ? nullptr : of.data<float>();
    const uint8_t* other_q = o.codes ? o.codes->data.data() : nullptr;
    const float oz = o.codes ? float(o.codes->zero_point) : 0.f, os = o.codes ? o.codes->scale : 1.f;
    const float zf = float(grid.zero_point), hi = float(grid.qmax), s = grid.scale;
    uint8_t* yd = y->data.data();
    run_layer(plan, x, positions, [&](int64_t at, int64_t ch, int32_t acc) {
      const float a = float(double(acc) * plan.mult[size_t(ch)]) + plan.bias[size_t(ch)];
      const float b = other_q ? (float(other_q[at]) - oz) * os : other_f[at];  // dequantize_act's
      float v = a + b;                                                          // add's
      if (relu) v = v < 0.f ? 0.f : v;                                          // relu's clamp
      const float q = std::nearbyint(v / s) + zf;                               // quantize_act's
      yd[at] = uint8_t(q < 0.f ? 0.f : (q > hi ? hi : q));
    });
    env[size_t(out)].codes = y;
  };
}

}  // namespace nwq
