// im2col / col2im on the CPU. Each row of col is one (channel, kh, kw) tap: a shifted copy of the
// channel plane (stride 1) or of one of its stride phases (strided convs), zero in the padding.
// Bulk copies and strided edge fixes keep the per-row overhead low on CIFAR's small planes.
#include "ops/im2col.h"

#include <algorithm>
#include <vector>

namespace nwq {

namespace {

template <class T>
void zero(T* out, int n) {
  if (n > 0) std::fill(out, out + n, T(0));
}

// Zeroes columns [0, cols.lo) and [cols.hi, OW) of output rows [rows.lo, rows.hi). Strided
// loops: on CIFAR sizes these are one element per row, where a memset call per row would cost
// more than the copy itself.
template <class T>
void zero_edge_columns(T* row, ValidRange rows, ValidRange cols, int OW) {
  for (int ow = 0; ow < cols.lo; ++ow) {
    for (int oh = rows.lo; oh < rows.hi; ++oh) row[oh * OW + ow] = T(0);
  }
  for (int ow = cols.hi; ow < OW; ++ow) {
    for (int oh = rows.lo; oh < rows.hi; ++oh) row[oh * OW + ow] = T(0);
  }
}

// How one tap's col row is copied: from source plane `phase` (row stride `ld`), shifted by
// (dy, dx), with output rows/columns [rows) x [cols) inside the source (the rest is padding).
struct TapCopy {
  int phase, dy, dx, ld;
  ValidRange rows, cols;
};

// out [OH, OW] = src[oh + dy][ow + dx] inside the tap's ranges, 0 elsewhere (assigns).
template <class T>
void copy_tap(const T* src, const TapCopy& t, T* out, int OH, int OW) {
  const ValidRange rows = t.rows, cols = t.cols;
  zero(out, rows.lo * OW);
  zero(out + rows.hi * OW, (OH - rows.hi) * OW);
  if (rows.lo == rows.hi || cols.lo == cols.hi) {
    zero(out + rows.lo * OW, (rows.hi - rows.lo) * OW);
    return;
  }
  const T* first = src + (rows.lo + t.dy) * t.ld + cols.lo + t.dx;
  if (t.ld == OW) {
    // Rows line up: one bulk copy, which wraps row ends into the edge columns cleared below.
    const int count = (rows.hi - rows.lo - 1) * OW + (cols.hi - cols.lo);
    std::copy(first, first + count, out + rows.lo * OW + cols.lo);
  } else {
    for (int oh = rows.lo; oh < rows.hi; ++oh) {
      const T* in = first + (oh - rows.lo) * t.ld;
      std::copy(in, in + (cols.hi - cols.lo), out + oh * OW + cols.lo);
    }
  }
  zero_edge_columns(out, rows, cols, OW);
}

// Strided convs read phase (a, b) of a plane: rows a, a + sh, ... and columns b, b + sw, ...
// Each channel plane is split once into the phases its taps use, which turns every tap into a
// shifted copy of one phase. With stride 1 the only phase is the plane itself (no copy). The tap
// geometry is worked out once per tile, not per channel; only the phase rows the tile reads are
// split.
template <class T>
class PhaseSplit {
 public:
  PhaseSplit(const Conv2dShape& s, RowTile tile)
      : s_(s), tile_(tile), sh_(s.p.stride_h), sw_(s.p.stride_w), ch_((s.H + sh_ - 1) / sh_),
        cw_((s.W + sw_ - 1) / sw_), used_(size_t(sh_) * sw_, 0), row_lo_(sh_, ch_),
        row_hi_(sh_, 0) {
    if (sh_ * sw_ > 1) buffer_.resize(size_t(sh_) * sw_ * ch_ * cw_);
    for (int kh = 0; kh < s.KH; ++kh) {
      for (int kw = 0; kw < s.KW; ++kw) taps_.push_back(tap(kh, kw));
    }
  }
  const std::vector<TapCopy>& taps() const { return taps_; }

  // Splits the channel plane xc [H, W] into the phases that taps use.
  void split(const T* xc) {
    xc_ = xc;
    for (int a = 0; a < sh_ && !buffer_.empty(); ++a) {
      if (sw_ == 2 && used_[a * 2] && used_[a * 2 + 1]) {
        split_pair(a);
        continue;
      }
      for (int b = 0; b < sw_; ++b) {
        if (used_[a * sw_ + b]) split_phase(a, b);
      }
    }
  }
  const T* source(const TapCopy& t) const {
    return buffer_.empty() ? xc_ : buffer_.data() + size_t(t.phase) * ch_ * cw_;
  }

 private:
  // offset = shift * stride + phase with 0 <= phase < stride.
  static int phase_of(int offset, int stride) { return ((offset % stride) + stride) % stride; }
  int phase_rows(int a) const { return (s_.H - a + sh_ - 1) / sh_; }
  int phase_cols(int b) const { return (s_.W - b + sw_ - 1) / sw_; }

  // Tap (kh, kw) for the tile: output row r (0-based in the tile) reads phase row r + dy.
  TapCopy tap(int kh, int kw) {
    const int off_h = kh * s_.p.dilation_h - s_.p.pad_h, off_w = kw * s_.p.dilation_w - s_.p.pad_w;
    const int a = phase_of(off_h, sh_), b = phase_of(off_w, sw_);
    TapCopy t;
    t.phase = a * sw_ + b, t.dy = (off_h - a) / sh_ + tile_.oh0, t.dx = (off_w - b) / sw_;
    t.ld = buffer_.empty() ? s_.W : cw_;
    t.rows = valid_range(tile_.oh1 - tile_.oh0, 1, t.dy, phase_rows(a));
    t.cols = valid_range(s_.OW, 1, t.dx, phase_cols(b));
    if (t.rows.lo < t.rows.hi && t.cols.lo < t.cols.hi) {
      used_[t.phase] = 1;
      row_lo_[a] = std::min(row_lo_[a], t.rows.lo + t.dy);
      row_hi_[a] = std::max(row_hi_[a], t.rows.hi + t.dy);
    }
    return t;
  }

  void split_phase(int a, int b) {
    T* dst = buffer_.data() + size_t(a * sw_ + b) * ch_ * cw_;
    const int cols = phase_cols(b);
    for (int i = row_lo_[a]; i < row_hi_[a]; ++i) {
      const T* in = xc_ + (i * sh_ + a) * s_.W + b;
      T* out = dst + i * cw_;
      if (sw_ == 2) {  // a compile-time stride vectorizes with shuffles, not gathers
#pragma omp simd
        for (int j = 0; j < cols; ++j) out[j] = in[2 * j];
      } else {
        const int sw = sw_;
#pragma omp simd
        for (int j = 0; j < cols; ++j) out[j] = in[j * sw];
      }
    }
  }

  // Stride 2 in width: phases (a, 0) and (a, 1) de-interleaved in one pass over each row.
  void split_pair(int a) {
    T* even = buffer_.data() + size_t(a * 2) * ch_ * cw_;
    T* odd = even + size_t(ch_) * cw_;
    const int pairs = s_.W / 2;
    for (int i = row_lo_[a]; i < row_hi_[a]; ++i) {
      const T* in = xc_ + (i * sh_ + a) * s_.W;
      T* e = even + i * cw_;
      T* o = odd + i * cw_;
#pragma omp simd
      for (int j = 0; j < pairs; ++j) {
        e[j] = in[2 * j];
        o[j] = in[2 * j + 1];
      }
      if (s_.W % 2) e[pairs] = in[2 * pairs];
    }
  }

  const Conv2dShape& s_;
  RowTile tile_;
  int sh_, sw_, ch_, cw_;
  std::vector<char> used_;
  std::vector<int> row_lo_, row_hi_;  // phase rows [lo, hi) read by the tile, per row phase
  std::vector<T> buffer_;
  std::vector<TapCopy> taps_;
  const T* xc_ = nullptr;
};

}  // namespace

int im2col_tile_rows(int Kg, int OH, int OW) {
  constexpr int kColTile = 192 * 1024, kMinTileCols = 512;
  const int fit = std::max(kColTile / std::max(1, Kg * OW), (kMinTileCols + OW - 1) / OW);
  const int tiles = (OH + fit - 1) / fit;
  return std::max(1, (OH + tiles - 1) / std::max(1, tiles));
}

template <class T>
void im2col(const T* x, int channels, const Conv2dShape& s, RowTile tile, T* col) {
  const int rows = tile.oh1 - tile.oh0;
  PhaseSplit<T> phases(s, tile);
  T* row = col;
  for (int c = 0; c < channels; ++c) {
    phases.split(x + static_cast<int64_t>(c) * s.H * s.W);
    for (const TapCopy& t : phases.taps()) {
      copy_tap(phases.source(t), t, row, rows, s.OW);
      row += static_cast<int64_t>(rows) * s.OW;
    }
  }
}

template <class T>
void col2im_add(const T* col, int channels, const Conv2dShape& s, RowTile tile, T* gx) {
  const Conv2dParams& p = s.p;
  const int64_t tile_size = static_cast<int64_t>(tile.oh1 - tile.oh0) * s.OW;
  for (int c = 0; c < channels; ++c) {
    T* gc = gx + static_cast<int64_t>(c) * s.H * s.W;
    for (int kh = 0; kh < s.KH; ++kh) {
      const int h_off = kh * p.dilation_h - p.pad_h;
      const ValidRange rows = valid_range(s.OH, p.stride_h, h_off, s.H);
      for (int kw = 0; kw < s.KW; ++kw) {
        const T* row = col + (static_cast<int64_t>(c * s.KH + kh) * s.KW + kw) * tile_size;
        const int w_off = kw * p.dilation_w - p.pad_w;
        const ValidRange cols = valid_range(s.OW, p.stride_w, w_off, s.W);
        for (int oh = std::max(rows.lo, tile.oh0); oh < std::min(rows.hi, tile.oh1); ++oh) {
          const T* in = row + (oh - tile.oh0) * s.OW;
          T* out = gc + (oh * p.stride_h + h_off) * s.W;  // gx[ih, ow * stride_w + w_off]
          if (p.stride_w == 1) {  // contiguous: vectorizes
            T* o = out + w_off;
            for (int ow = cols.lo; ow < cols.hi; ++ow) o[ow] += in[ow];
          } else {
            for (int ow = cols.lo; ow < cols.hi; ++ow) out[ow * p.stride_w + w_off] += in[ow];
          }
        }
      }
    }
  }
}

template void im2col<float>(const float*, int, const Conv2dShape&, RowTile, float*);
template void im2col<double>(const double*, int, const Conv2dShape&, RowTile, double*);
template void col2im_add<float>(const float*, int, const Conv2dShape&, RowTile, float*);
template void col2im_add<double>(const double*, int, const Conv2dShape&, RowTile, double*);

}  // namespace nwq
