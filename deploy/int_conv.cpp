// The packed integer convolution of deploy/int_conv.h: weight packing (once per layer), the padded
// channels-last input (once per call) and the tile loop over both cores.
#include "deploy/int_conv.h"

#include <algorithm>

#include "core/error.h"

namespace nwq {

int64_t IntConvWeights::block_rows() const {
  const IntLayout l = int_layout(isa);
  return int64_t(l.panel_rows) * l.max_panels;
}

int64_t IntConvWeights::bytes() const {
  return int64_t(w8.size() + w16.size() * 2 + (init.size() + zw.size()) * 4);
}

namespace {

// Panels of row block b of a group: full blocks have max_panels, the last only what it needs.
int block_panels(const IntConvWeights& w, int64_t b) {
  const IntLayout l = int_layout(w.isa);
  const int64_t rows = std::min(w.block_rows(), w.rows_per_group - b * w.block_rows());
  return int((rows + l.panel_rows - 1) / l.panel_rows);
}

}  // namespace

IntConvWeights pack_int_conv(IntIsa isa, const IntConvShape& shape, int64_t out_ch, const uint8_t* codes,
                             const uint8_t* zero_points, int z_x) {
  const IntLayout l = int_layout(isa);
  IntConvWeights w;
  w.isa = isa, w.shape = shape, w.out_ch = out_ch, w.input_zero_point = z_x;
  const int64_t cg = shape.channels / shape.groups, k = shape.k();
  NWQ_CHECK(out_ch % shape.groups == 0 && k <= kIntConvMaxK, "pack_int_conv: ", out_ch, " rows in ",
            shape.groups, " groups, reduction ", k);
  w.rows_per_group = out_ch / shape.groups;
  w.channels_padded = (cg + l.step - 1) / l.step * l.step;
  w.taps = shape.kernel_h * shape.kernel_w;
  w.words = w.channels_padded / l.step;
  w.blocks = (w.rows_per_group + w.block_rows() - 1) / w.block_rows();
  const int64_t padded_rows = shape.groups * w.blocks * w.block_rows();
  if (l.bytes) w.init.assign(size_t(padded_rows), 0), w.zw.assign(size_t(padded_rows), 0);
  int64_t total = 0;
  for (int64_t g = 0; g < shape.groups; ++g)
    for (int64_t b = 0; b < w.blocks; ++b) {
      w.block_start.push_back(total);
      total += block_panels(w, b) * l.panel_rows * w.taps * w.channels_padded;
    }
  if (l.bytes) w.w8.assign(size_t(total), 0);
  else w.w16.assign(size_t(total), 0);
  for (int64_t o = 0; o < out_ch; ++o) {
    const int64_t g = o / w.rows_per_group, b = (o % w.rows_per_group) / w.block_rows();
    const int64_t r = o % w.rows_per_group - b * w.block_rows();
    const int64_t rows = int64_t(block_panels(w, b)) * l.panel_rows, start = w.block_start[size_t(g * w.blocks + b)];
    const int zp = zero_points[o];
    int64_t row_sum = 0;
    for (int64_t c = 0; c < cg; ++c)
      for (int64_t t = 0; t < w.taps; ++t) {
        const int code = codes[(o * cg + c) * w.taps + t];
        const int64_t at = start + ((t * w.words + c / l.step) * rows + r) * l.step + c % l.step;
        if (l.bytes) w.w8[size_t(at)] = uint8_t(code);
        else w.w16[size_t(at)] = int16_t(code - zp);
        row_sum += code - zp;
      }
    if (l.bytes) {
      const size_t row = size_t((g * w.blocks + b) * w.block_rows() + r);
      w.init[row] = int32_t((128 - z_x) * row_sum);
      w.zw[row] = zp;
    }
  }
  return w;
}

namespace {

// One padded row (image img, padded row `row`) of the channels-last input: T = int8 (vnni, with
// pixel sums) or int16.
template <class T>
void prepare_row(const IntConvWeights& w, const uint8_t* x, int64_t row, int64_t height, int64_t width,
                 int offset, T* out, int32_t* sums) {
  const IntConvShape& s = w.shape;
  const int64_t cg = s.channels / s.groups, cp = w.channels_padded, pixel = s.groups * cp;
  const int64_t hp = height + 2 * s.pad_h, wp = width + 2 * s.pad_w, plane = height * width;
  const int64_t img = row / hp, y = row % hp - s.pad_h;
  const int pad = w.input_zero_point - offset;
  for (int64_t xp = 0; xp < wp; ++xp) {
    const int64_t xx = xp - s.pad_w;
    const bool inside = y >= 0 && y < height && xx >= 0 && xx < width;
    const uint8_t* src = x + img * s.channels * plane + (inside ? y * width + xx : 0);
    T* dst = out + (row * wp + xp) * pixel;
    for (int64_t g = 0; g < s.groups; ++g, dst += cp) {
      int32_t sum = 0;
      if (inside) {
        const uint8_t* sg = src + g * cg * plane;
        for (int64_t c = 0; c < cg; ++c) {
          const int v = int(sg[c * plane]) - offset;
          dst[c] = T(v);
          sum += v;
        }
      } else {
        for (int64_t c = 0; c < cg; ++c) dst[c] = T(pad);
        sum = int32_t(pad * cg);
      }
      for (int64_t c = cg; c < cp; ++c) dst[c] = T(0);
      if (sums) sums[(row * wp + xp) * s.groups + g] = sum;
    }
  }
}

}  // namespace

void prepare_int_input(const IntConvWeights& w, const uint8_t* x, int64_t n, int64_t height, int64_t width,
                       IntConvInput* in) {
  const IntConvShape& s = w.shape;
  const bool bytes = int_layout(w.isa).bytes;
  const int64_t hp = height + 2 * s.pad_h, wp = width + 2 * s.pad_w;
  in->n = n, in->height = height, in->width = width, in->padded_h = hp, in->padded_w = wp;
  const size_t total = size_t(n * hp * wp * s.groups * w.channels_padded);
  if (bytes) in->b8.resize(total), in->pixel_sums.resize(size_t(n * hp * wp * s.groups));
  else in->b16.resize(total);
  const int offset = bytes ? 128 : w.input_zero_point;
#pragma omp parallel for schedule(static) if (total > (size_t{1} << 16))
  for (int64_t row = 0; row < n * hp; ++row) {
    if (bytes) prepare_row(w, x, row, height, width, offset, in->b8.data(), in->pixel_sums.data());
    else prepare_row<int16_t>(w, x, row, height, width, offset, in->b16.data(), nullptr);
  }
}

namespace {

// The window origin (pixel index in the padded input) of every column, without a division per
// column: tiles of kTileCols columns, each walked from its first column.
std::vector<int64_t> column_pixels(const IntConvShape& geo, const IntConvInput& in, int64_t tile_cols) {
  const int64_t oh = geo.out_h(), ow = geo.out_w(), columns = in.n * oh * ow;
  std::vector<int64_t> px(static_cast<size_t>(columns));
  const int64_t tiles = (columns + tile_cols - 1) / tile_cols;
#pragma omp parallel for schedule(static) if (columns > 4096)
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t begin = t * tile_cols, end = std::min(columns, begin + tile_cols);
    int64_t img = begin / (oh * ow), oy = begin % (oh * ow) / ow, ox = begin % ow;
    for (int64_t q = begin; q < end; ++q) {
      px[size_t(q)] = (img * in.padded_h + oy * geo.stride_h) * in.padded_w + ox * geo.stride_w;
      if (++ox == ow) ox = 0, oy = oy + 1 == oh ? (++img, 0) : oy + 1;
    }
  }
  return px;
}

}  // namespace

void run_int_conv(const IntConvWeights& w, const IntConvInput& in, const IntTileSink& sink) {
  const IntConvShape& s = w.shape;
  const IntLayout l = int_layout(w.isa);
  IntConvShape geo = s;
  geo.height = in.height, geo.width = in.width;
  const int64_t columns = in.n * geo.out_h() * geo.out_w();
  const int64_t pixel = s.groups * w.channels_padded, elem = l.bytes ? 1 : 2;
  const char* base = l.bytes ? reinterpret_cast<const char*>(in.b8.data()) : reinterpret_cast<const char*>(in.b16.data());
  std::vector<int64_t> tap_offset(size_t(w.taps)), tap_pixel(size_t(w.taps));
  for (int64_t t = 0; t < w.taps; ++t) {
    tap_pixel[size_t(t)] = (t / s.kernel_w) * s.dilation_h * in.padded_w + (t % s.kernel_w) * s.dilation_w;
    tap_offset[size_t(t)] = tap_pixel[size_t(t)] * pixel;
  }
  constexpr int64_t kTileCols = 96;  // columns per task: their windows stay in L1/L2 across row blocks
  const int64_t tiles = (columns + kTileCols - 1) / kTileCols, tasks = s.groups * tiles * w.blocks;
  const std::vector<int64_t> col_px = column_pixels(geo, in, kTileCols);
  const void* wdata = l.bytes ? static_cast<const void*>(w.w8.data()) : static_cast<const void*>(w.w16.data());
  const int64_t work = columns * w.out_ch * s.k();
#pragma omp parallel for schedule(static) if (work > (int64_t{1} << 20))
  for (int64_t task = 0; task < tasks; ++task) {
    const int64_t b = task % w.blocks, tile = (task / w.blocks) % tiles, g = task / (w.blocks * tiles);
    const int panels = block_panels(w, b);
    const int64_t row_in_group = b * w.block_rows();
    const int rows = int(std::min<int64_t>(w.block_rows(), w.rows_per_group - row_in_group));
    const int64_t padded_row = (g * w.blocks + b) * w.block_rows();
    int32_t acc[64 * 8];
    const void* a[8];
    int32_t colsum[8];
    IntTile t{static_cast<const char*>(wdata) + w.block_start[size_t(g * w.blocks + b)] * elem, a,
              tap_offset.data(), w.taps, w.words, l.bytes ? w.init.data() + padded_row : nullptr,
              l.bytes ? w.zw.data() + padded_row : nullptr, colsum, panels, 0, acc};
    const int64_t end = std::min(columns, (tile + 1) * kTileCols);
    for (int64_t col = tile * kTileCols; col < end; col += l.cols) {
      t.cols = int(std::min<int64_t>(l.cols, end - col));
      for (int n = 0; n < t.cols; ++n) {
        const int64_t px = col_px[size_t(col + n)];
        a[n] = base + (px * pixel + g * w.channels_padded) * elem;
        if (!l.bytes) continue;
        int32_t sum = 0;
        for (int64_t k = 0; k < w.taps; ++k) sum += in.pixel_sums[size_t((px + tap_pixel[size_t(k)]) * s.groups + g)];
        colsum[n] = sum;
      }
      run_int_tile(w.isa, t);
      sink(g * w.rows_per_group + row_in_group, rows, col, t.cols, acc, panels * l.panel_rows);
    }
  }
}

}  // namespace nwq
