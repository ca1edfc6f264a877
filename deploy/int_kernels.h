// CPU kernels of the integer engine (deploy/int_engine.h): codes to int16 columns (im2col with
// the zero point taken out), an int16 x int16 -> int32 GEMM (portable, AVX2, AVX-512 VNNI) and
// the fixed-point requantization of int32 accumulators to the next activation's codes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nwq {

// The instruction set of the GEMM. best_int_isa() picks the best this CPU runs, unless the
// environment variable NWQ_INT_ISA (portable | avx2 | vnni) asks for another (an ISA the CPU
// lacks is an error naming the variable).
enum class IntIsa { Portable, Avx2, Avx512Vnni };
IntIsa best_int_isa();
bool int_isa_supported(IntIsa isa);
std::string int_isa_name(IntIsa isa);

// The reduction length padded to a multiple of kIntK (zeros): every kernel reads whole vectors.
constexpr int64_t kIntK = 32;
inline int64_t padded_k(int64_t k) { return (k + kIntK - 1) / kIntK * kIntK; }

// C[o * ldc + p] = sum_k W[o * k2 + k] * A[p * k2 + k] for o < rows, p < cols: every weight row
// dotted with every column of A (both int16, k2 a multiple of kIntK), accumulated exactly in
// int32. AVX2 multiplies 16 pairs a step (vpmaddwd), VNNI 32 (vpdpwssd). Products are at most
// 255 * 255 and k2 <= 2^15, so no sum overflows.
void int16_gemm(IntIsa isa, const int16_t* w, const int16_t* a, int32_t* c, int64_t rows,
                int64_t cols, int64_t k2, int64_t ldc);

// The convolution geometry of one image.
struct IntConvShape {
  int64_t channels, height, width;          // input
  int64_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
  int64_t groups;
  int64_t out_h() const { return (height + 2 * pad_h - dilation_h * (kernel_h - 1) - 1) / stride_h + 1; }
  int64_t out_w() const { return (width + 2 * pad_w - dilation_w * (kernel_w - 1) - 1) / stride_w + 1; }
  int64_t k() const { return channels / groups * kernel_h * kernel_w; }  // reduction per group
};

// Columns of group g of one image x [C, H, W] (codes): cols[p * k2 + k] = x[..] - zero_point,
// with 0 where the window leaves the image (the dequantized input is 0 there, as in fake-quant)
// and for k >= shape.k(). p runs over the out_h * out_w output positions.
void codes_to_columns(const uint8_t* x, int zero_point, const IntConvShape& shape, int64_t group,
                      int16_t* cols, int64_t k2);

// Requantization of one output channel: code = clamp(round_half_up((acc * m0 + bias) / 2^shift)
// + zero_point, lo, hi), in int64. m0 / 2^shift is the real multiplier s_in * s_w / s_out (m0 in
// [2^30, 2^31]), bias the layer's bias b / s_out in the same fixed point; lo, hi the clamp that
// also carries a fused ReLU (lo = zero point) or ReLU6 (hi = the code of 6).
struct ChannelRequant {
  int64_t m0 = 0, bias = 0;
  int shift = 0;
};
// Builds it from the real multiplier and bias/s_out; false when the fixed point cannot hold them
// (then the engine takes the float step instead).
bool make_requant(double multiplier, double bias_over_scale, ChannelRequant* out);
inline uint8_t requantize_value(int32_t acc, const ChannelRequant& r, int zero_point, int lo, int hi) {
  // >> of a negative int64 is arithmetic (floor) with g++/clang; + half makes it round half up.
  const int64_t q = ((int64_t(acc) * r.m0 + r.bias + (int64_t{1} << (r.shift - 1))) >> r.shift) + zero_point;
  return uint8_t(q < lo ? lo : (q > hi ? hi : q));
}
void requantize(const int32_t* acc, int64_t n, const ChannelRequant& r, int zero_point, int lo,
                int hi, uint8_t* out);

}  // namespace nwq
