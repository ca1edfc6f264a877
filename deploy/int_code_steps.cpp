// The non-layer steps of deploy/int_code_steps.h, on both cores.
#include "deploy/int_code_steps.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace nwq {

std::shared_ptr<IntEngine::Codes> quantize_floats(const Tensor& x_in, const IntCodesGrid& grid, bool relu) {
  const Tensor x = x_in.contiguous();
  auto c = std::make_shared<IntEngine::Codes>();
  c->shape = x.sizes(), c->scale = grid.scale, c->zero_point = grid.zero_point, c->qmax = grid.qmax;
  c->data.resize(size_t(x.numel()));
  const float* v = x.data<float>();
  uint8_t* out = c->data.data();
  const float s = grid.scale, z = float(grid.zero_point), hi = float(grid.qmax);
  const int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n > (int64_t{1} << 15))
  for (int64_t i = 0; i < n; ++i) {
    const float u = relu && v[i] < 0.f ? 0.f : v[i];
    out[i] = quantize_value(u, s, z, hi);
  }
  return c;
}

std::vector<uint8_t> regrid_table(const IntCodesGrid& in, const IntCodesGrid& out) {
  std::vector<uint8_t> table(256, 0);
  const float z = float(in.zero_point);
  for (int c = 0; c <= in.qmax; ++c)
    table[size_t(c)] = quantize_value((float(c) - z) * in.scale, out.scale, float(out.zero_point), float(out.qmax));
  return table;
}

std::shared_ptr<IntEngine::Codes> max_pool_codes(const IntEngine::Codes& x, const Pool2dParams& p,
                                                 const std::vector<uint8_t>& table, const IntCodesGrid& out) {
  NWQ_CHECK(x.shape.size() == 4 && !p.ceil_mode && p.pad_h * 2 <= p.kernel_h && p.pad_w * 2 <= p.kernel_w,
            "int engine: max pooling of codes ", shape_str(x.shape));
  const int64_t h = x.shape[2], w = x.shape[3];
  const int64_t oh = (h + 2 * p.pad_h - p.kernel_h) / p.stride_h + 1, ow = (w + 2 * p.pad_w - p.kernel_w) / p.stride_w + 1;
  auto y = std::make_shared<IntEngine::Codes>();
  y->shape = {x.shape[0], x.shape[1], oh, ow}, y->scale = out.scale, y->zero_point = out.zero_point, y->qmax = out.qmax;
  y->data.resize(size_t(shape_numel(y->shape)));
  const int64_t planes = x.shape[0] * x.shape[1];
#pragma omp parallel for schedule(static) if (planes * oh * ow > (int64_t{1} << 14))
  for (int64_t pl = 0; pl < planes; ++pl) {
    const uint8_t* src = x.data.data() + pl * h * w;
    uint8_t* dst = y->data.data() + pl * oh * ow;
    for (int64_t i = 0; i < oh; ++i) {
      const int64_t y0 = std::max<int64_t>(0, i * p.stride_h - p.pad_h), y1 = std::min(h, i * p.stride_h - p.pad_h + p.kernel_h);
      for (int64_t j = 0; j < ow; ++j) {
        const int64_t x0 = std::max<int64_t>(0, j * p.stride_w - p.pad_w), x1 = std::min(w, j * p.stride_w - p.pad_w + p.kernel_w);
        uint8_t m = 0;
        for (int64_t yy = y0; yy < y1; ++yy)
          for (int64_t xx = x0; xx < x1; ++xx) m = std::max(m, src[yy * w + xx]);
        dst[i * ow + j] = table[m];
      }
    }
  }
  return y;
}

}  // namespace nwq
