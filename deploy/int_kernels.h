// CPU basics of the integer engine (deploy/int_engine.h): the instruction set its kernels run
// (deploy/int_conv.h), the convolution geometry, and the fixed-point requantization of int32
// accumulators to the next activation's codes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nwq {

// The instruction set of the packed convolution. best_int_isa() picks the best this CPU runs,
// unless the environment variable NWQ_INT_ISA (portable | avx2 | vnni) asks for another (an ISA
// the CPU lacks is an error naming the variable).
enum class IntIsa { Portable, Avx2, Avx512Vnni };
IntIsa best_int_isa();
bool int_isa_supported(IntIsa isa);
std::string int_isa_name(IntIsa isa);

// The convolution geometry of one image.
struct IntConvShape {
  int64_t channels, height, width;          // input
  int64_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
  int64_t groups;
  int64_t out_h() const { return (height + 2 * pad_h - dilation_h * (kernel_h - 1) - 1) / stride_h + 1; }
  int64_t out_w() const { return (width + 2 * pad_w - dilation_w * (kernel_w - 1) - 1) / stride_w + 1; }
  int64_t k() const { return channels / groups * kernel_h * kernel_w; }  // reduction per group
};

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

// A layer's ChannelRequant as arrays over output channels, for requantize_channels.
struct RequantArrays {
  std::vector<int64_t> m0, add, shift;  // add = bias + 2^(shift - 1)
};
RequantArrays requant_arrays(const std::vector<ChannelRequant>& req);
// One output position of channels row0 .. row0 + rows: out[r * stride] = requantize_value(acc[r],
// req[row0 + r], ...), the same integers; eight channels a step with AVX-512 (F + DQ) where
// `vector` is set and the CPU runs it (int_avx512dq_supported()).
void requantize_channels(const int32_t* acc, int rows, const RequantArrays& req, int64_t row0, int zero_point,
                         int lo, int hi, uint8_t* out, int64_t stride, bool vector);
bool int_avx512dq_supported();

}  // namespace nwq
