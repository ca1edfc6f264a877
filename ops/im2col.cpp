// im2col / col2im on the CPU. Each row of col is one (channel, kh, kw) tap; for each output row
// the valid columns are one contiguous range, so rows are filled with zero / copy / zero runs.
#include "ops/im2col.h"

#include <algorithm>

namespace nwq {

ValidRange valid_range(int out_size, int stride, int offset, int in_size) {
  // o * stride + offset >= 0  <=>  o >= ceil(-offset / stride)
  int lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  // o * stride + offset <= in_size - 1  <=>  o <= floor((in_size - 1 - offset) / stride)
  int last = in_size - 1 - offset;
  int hi = last < 0 ? 0 : last / stride + 1;
  lo = std::min(lo, out_size);
  hi = std::max(lo, std::min(hi, out_size));
  return {lo, hi};
}

template <class T>
void im2col(const T* x, int channels, const Conv2dShape& s, T* col) {
  const Conv2dParams& p = s.p;
  const int ohw = s.OH * s.OW;
  for (int c = 0; c < channels; ++c) {
    const T* xc = x + static_cast<int64_t>(c) * s.H * s.W;
    for (int kh = 0; kh < s.KH; ++kh) {
      for (int kw = 0; kw < s.KW; ++kw) {
        T* row = col + (static_cast<int64_t>(c * s.KH + kh) * s.KW + kw) * ohw;
        const int w_off = kw * p.dilation_w - p.pad_w;
        const ValidRange cols = valid_range(s.OW, p.stride_w, w_off, s.W);
        for (int oh = 0; oh < s.OH; ++oh) {
          T* out = row + oh * s.OW;
          const int ih = oh * p.stride_h - p.pad_h + kh * p.dilation_h;
          if (ih < 0 || ih >= s.H) {
            std::fill(out, out + s.OW, T(0));
            continue;
          }
          const T* in = xc + ih * s.W;  // x[ih, ow * stride_w + w_off]
          std::fill(out, out + cols.lo, T(0));
          if (p.stride_w == 1 && cols.hi > cols.lo) {
            std::copy(in + cols.lo + w_off, in + cols.hi + w_off, out + cols.lo);
          } else {
            for (int ow = cols.lo; ow < cols.hi; ++ow) out[ow] = in[ow * p.stride_w + w_off];
          }
          std::fill(out + cols.hi, out + s.OW, T(0));
        }
      }
    }
  }
}

template <class T>
void col2im_add(const T* col, int channels, const Conv2dShape& s, T* gx) {
  const Conv2dParams& p = s.p;
  const int ohw = s.OH * s.OW;
  for (int c = 0; c < channels; ++c) {
    T* gc = gx + static_cast<int64_t>(c) * s.H * s.W;
    for (int kh = 0; kh < s.KH; ++kh) {
      const ValidRange rows = valid_range(s.OH, p.stride_h, kh * p.dilation_h - p.pad_h, s.H);
      for (int kw = 0; kw < s.KW; ++kw) {
        const T* row = col + (static_cast<int64_t>(c * s.KH + kh) * s.KW + kw) * ohw;
        const int w_off = kw * p.dilation_w - p.pad_w;
        const ValidRange cols = valid_range(s.OW, p.stride_w, w_off, s.W);
        for (int oh = rows.lo; oh < rows.hi; ++oh) {
          const T* in = row + oh * s.OW;
          const int ih = oh * p.stride_h - p.pad_h + kh * p.dilation_h;
          T* out = gc + ih * s.W;  // gx[ih, ow * stride_w + w_off]
          for (int ow = cols.lo; ow < cols.hi; ++ow) out[ow * p.stride_w + w_off] += in[ow];
        }
      }
    }
  }
}

template void im2col<float>(const float*, int, const Conv2dShape&, float*);
template void im2col<double>(const double*, int, const Conv2dShape&, double*);
template void col2im_add<float>(const float*, int, const Conv2dShape&, float*);
template void col2im_add<double>(const double*, int, const Conv2dShape&, double*);

}  // namespace nwq
