// The packed integer convolution (deploy/int_conv.h) and its micro-kernels against the direct
// integer convolution in plain loops: odd shapes, batches, groups, stride, padding, dilation,
// 8-bit and 4-bit codes, every instruction set this CPU runs.
#include <doctest/doctest.h>

#include <algorithm>
#include <mutex>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "deploy/int_conv.h"

using namespace nwq;

namespace {

int random_int(Rng& rng, int lo, int hi) { return lo + int(rng.next_u64() % uint64_t(hi - lo + 1)); }

struct ConvCase {
  int64_t n, channels, height, width, out_ch, kh, kw, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups;
  int bits;
};

// sum over the window of (x - z_x)(w - z_w[o]); 0 where the window leaves the image.
std::vector<int32_t> reference_conv(const ConvCase& c, const IntConvShape& s, const std::vector<uint8_t>& x, int zx,
                                    const std::vector<uint8_t>& w, const std::vector<uint8_t>& zw) {
  const int64_t oh = s.out_h(), ow = s.out_w(), cg = c.channels / c.groups, og = c.out_ch / c.groups;
  std::vector<int32_t> out(size_t(c.out_ch * c.n * oh * ow));
  for (int64_t img = 0; img < c.n; ++img)
    for (int64_t o = 0; o < c.out_ch; ++o)
      for (int64_t y = 0; y < oh; ++y)
        for (int64_t xo = 0; xo < ow; ++xo) {
          int64_t acc = 0;
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t a = 0; a < c.kh; ++a)
              for (int64_t b = 0; b < c.kw; ++b) {
                const int64_t yy = y * c.stride_h - c.pad_h + a * c.dil_h, xx = xo * c.stride_w - c.pad_w + b * c.dil_w;
                if (yy < 0 || yy >= c.height || xx < 0 || xx >= c.width) continue;
                const int64_t ch = (o / og) * cg + ci;
                const int xv = x[size_t(((img * c.channels + ch) * c.height + yy) * c.width + xx)] - zx;
                acc += int64_t(xv) * (w[size_t(((o * cg + ci) * c.kh + a) * c.kw + b)] - zw[size_t(o)]);
              }
          out[size_t(o * c.n * oh * ow + img * oh * ow + y * ow + xo)] = int32_t(acc);
        }
  return out;
}

}  // namespace

TEST_CASE("int conv: packed implicit GEMM equals the direct integer convolution, every ISA") {
  Rng rng(21);
  const std::vector<ConvCase> cases = {
      {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 8},     // a 1x1 everything
      {3, 5, 7, 6, 13, 3, 3, 1, 1, 1, 1, 1, 1, 1, 8},    // odd rows, channels, columns
      {2, 6, 9, 11, 35, 3, 2, 2, 1, 1, 2, 2, 1, 1, 4},   // stride, asymmetric kernel, dilation
      {2, 8, 5, 7, 6, 3, 3, 2, 2, 1, 1, 1, 1, 2, 8},     // 2 groups, stride 2
      {1, 6, 6, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1, 6, 4},     // depthwise
      {2, 70, 4, 3, 40, 1, 1, 1, 1, 0, 0, 1, 1, 1, 8},   // 1x1, channels past a word and a block
      {5, 33, 1, 1, 17, 1, 1, 1, 1, 0, 0, 1, 1, 1, 2},   // a linear layer on 5 rows
      {1, 64, 9, 9, 72, 3, 3, 2, 2, 1, 1, 1, 1, 1, 8}};  // several row blocks, stride 2
  std::vector<IntIsa> isas;
  for (IntIsa isa : {IntIsa::Portable, IntIsa::Avx2, IntIsa::Avx512Vnni})
    if (int_isa_supported(isa)) isas.push_back(isa);
  for (const ConvCase& c : cases) {
    CAPTURE(c.channels);
    CAPTURE(c.out_ch);
    CAPTURE(c.groups);
    CAPTURE(c.bits);
    IntConvShape s{c.channels, c.height, c.width, c.kh, c.kw, c.stride_h, c.stride_w,
                   c.pad_h, c.pad_w, c.dil_h, c.dil_w, c.groups};
    const int qmax = (1 << c.bits) - 1, zx = random_int(rng, 0, 255);
    std::vector<uint8_t> x(size_t(c.n * c.channels * c.height * c.width)), w(size_t(c.out_ch * s.k())),
        zw(size_t(c.out_ch));
    for (auto& v : x) v = uint8_t(random_int(rng, 0, 255));
    for (auto& v : w) v = uint8_t(random_int(rng, 0, qmax));
    for (auto& v : zw) v = uint8_t(random_int(rng, 0, qmax));
    w[0] = 0, zw[0] = uint8_t(qmax), x[0] = 255;  // the extremes of the products
    const std::vector<int32_t> want = reference_conv(c, s, x, zx, w, zw);
    const int64_t positions = s.out_h() * s.out_w(), columns = c.n * positions;
    for (IntIsa isa : isas) {
      CAPTURE(int_isa_name(isa));
      const IntConvWeights packed = pack_int_conv(isa, s, c.out_ch, w.data(), zw.data(), zx);
      IntConvInput in;
      prepare_int_input(packed, x.data(), c.n, c.height, c.width, &in);
      std::vector<int32_t> got(want.size(), -7);
      std::vector<int> seen(want.size(), 0);
      std::mutex m;
      run_int_conv(packed, in, [&](int64_t row0, int rows, int64_t col0, int cols, const int32_t* acc, int ld) {
        std::lock_guard<std::mutex> lock(m);
        for (int n = 0; n < cols; ++n)
          for (int r = 0; r < rows; ++r) {
            const size_t at = size_t((row0 + r) * columns + col0 + n);
            got[at] = acc[n * ld + r];
            ++seen[at];
          }
      });
      CHECK(got == want);
      CHECK(std::count(seen.begin(), seen.end(), 1) == int64_t(seen.size()));  // every sum once
    }
  }
  IntConvShape big{1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1};
  big.channels = kIntConvMaxK + 1;
  std::vector<uint8_t> w(size_t(big.channels)), zw(1);
  CHECK_THROWS_AS(pack_int_conv(IntIsa::Portable, big, 1, w.data(), zw.data(), 0), Error);
}
