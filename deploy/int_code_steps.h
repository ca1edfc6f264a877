// Steps of the integer engine that are not layers: quantizing floats to codes (with a ReLU folded
// in), and max pooling on codes followed by a change of grid through a 256-entry table.
#pragma once
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include "deploy/int_layer_steps.h"
#include "ops/pool.h"

namespace nwq {

// The code of one value: clamp(nearbyint(v / s) + z, 0, qmax) in float, as fake_quant's CPU
// kernel computes it.
inline uint8_t quantize_value(float v, float s, float z, float qmax) {
  const float q = std::nearbyint(v / s) + z;
  return uint8_t(q < 0.f ? 0.f : (q > qmax ? qmax : q));
}

// Codes of x [any shape] on the grid, of relu(x) (x < 0 ? 0 : x, as relu's kernel) when asked.
std::shared_ptr<IntEngine::Codes> quantize_floats(const Tensor& x, const IntCodesGrid& grid, bool relu);

// table[c] = the code on `out` of the value code c of `in` dequantizes to, for every c <= in.qmax.
std::vector<uint8_t> regrid_table(const IntCodesGrid& in, const IntCodesGrid& out);

// Max pooling of codes [N, C, H, W] (floor mode, padding ignored as max_pool2d's -inf is), each
// window's largest code then mapped through table onto `out`. Dequantizing is monotone, so this
// is max_pool2d on the dequantized values followed by the quantizer, code for code.
std::shared_ptr<IntEngine::Codes> max_pool_codes(const IntEngine::Codes& x, const Pool2dParams& p,
                                                 const std::vector<uint8_t>& table, const IntCodesGrid& out);

}  // namespace nwq
