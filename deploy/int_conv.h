// The packed integer convolution of the engine (deploy/int_engine.h): weights packed once into the
// micro-kernels' row blocks, every column of a batch in one implicit GEMM over a padded
// channels-last copy of the input codes (no im2col), tiles handed to a sink as exact int32 sums.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "deploy/int_kernels.h"
#include "deploy/int_microkernels.h"

namespace nwq {

// One conv (or linear: a 1x1 conv on a 1x1 image) layer's weights, packed for `isa`. The sums it
// gives are those of the reference: acc[o][p] = sum_k (x_code - z_x)(w_code[o][k] - z_w[o]).
struct IntConvWeights {
  IntIsa isa = IntIsa::Portable;
  IntConvShape shape{};  // height and width are the input's, given per call
  int64_t out_ch = 0, rows_per_group = 0, channels_padded = 0;  // per group, to the layout step
  int64_t taps = 0, words = 0, blocks = 0;                      // row blocks per group
  int input_zero_point = 0;
  std::vector<int64_t> block_start;  // [group * blocks + b]: first element of that block's weights
  std::vector<uint8_t> w8;           // vnni: weight codes
  std::vector<int16_t> w16;          // avx2, portable: w_code - z_w
  std::vector<int32_t> init, zw;     // vnni: (128 - z_x) sum_k (w - z_w) and z_w per padded row
  int64_t bytes() const;             // what the packed weights and row terms hold in memory
  int64_t block_rows() const;        // rows of a full block (panels x panel rows)
};

// The largest reduction (channels per group x taps): every sum of 255 x 255 products then fits
// int32. Partial sums may wrap (vnni's correction terms), the exact total comes out modulo 2^32.
constexpr int64_t kIntConvMaxK = 32768;

// codes [out_ch][channels / groups][kernel_h][kernel_w], zero_points [out_ch]; z_x: the input
// quantizer's zero point.
IntConvWeights pack_int_conv(IntIsa isa, const IntConvShape& shape, int64_t out_ch, const uint8_t* codes,
                             const uint8_t* zero_points, int z_x);

// The batch's codes [n][channels][height][width] channels-last with the padding border (where the
// dequantized input is 0): vnni holds x_code - 128 (s8), the others x_code - z_x (int16); padded
// channels are 0. pixel_sums (vnni) [pixel][group]: the sum of a pixel's values over its group.
struct IntConvInput {
  int64_t n = 0, height = 0, width = 0, padded_h = 0, padded_w = 0;
  std::vector<int8_t> b8;
  std::vector<int16_t> b16;
  std::vector<int32_t> pixel_sums;
};
void prepare_int_input(const IntConvWeights& w, const uint8_t* x, int64_t n, int64_t height, int64_t width,
                       IntConvInput* in);

// Called once per tile, from several threads at once (tiles never overlap): output channels
// [row0, row0 + rows), columns [col0, col0 + cols) where column = image * out_h * out_w + position,
// acc[n * ld + r] the exact sum of row row0 + r and column col0 + n.
using IntTileSink = std::function<void(int64_t row0, int rows, int64_t col0, int cols, const int32_t* acc,
                                       int ld)>;
void run_int_conv(const IntConvWeights& w, const IntConvInput& in, const IntTileSink& sink);

}  // namespace nwq
