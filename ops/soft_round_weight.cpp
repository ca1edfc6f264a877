// The checks shared by both soft weights (AdaRound and ASoftmax): w_floor, scale and zero_point
// agree in shape, device and dtype, qmin < qmax, and on the CPU every scale is positive.
#include "ops/soft_round_weight.h"

namespace nwq {

SoftWeightView soft_weight_view(const char* op, const Tensor& w_floor, const Tensor& scale,
                                const Tensor& zero_point, int64_t qmin, int64_t qmax) {
  NWQ_CHECK(w_floor.defined() && scale.defined(), op, ": w_floor and scale must be defined");
  NWQ_CHECK(w_floor.dim() >= 1, op, ": w_floor must have at least one dim, got ",
            shape_str(w_floor.sizes()));
  NWQ_CHECK(qmin < qmax, op, ": qmin (", qmin, ") must be below qmax (", qmax, ")");
  const int64_t channels = scale.numel() == 1 ? 1 : w_floor.size(0);
  NWQ_CHECK(scale.numel() == channels, op, ": scale ", shape_str(scale.sizes()), " must have 1 or ",
            w_floor.size(0), " elements for w_floor ", shape_str(w_floor.sizes()));
  NWQ_CHECK(!zero_point.defined() || zero_point.numel() == channels, op, ": zero_point ",
            shape_str(zero_point.sizes()), " must have ", channels, " element(s) like scale ",
            shape_str(scale.sizes()));
  check_same(op, {w_floor, scale, zero_point});
  if (scale.device().is_cpu()) {  // CUDA: no sync per call; the kernels write NaN instead
    Tensor s = scale.contiguous().to(DType::F64);
    for (int64_t c = 0; c < channels; ++c) {
      NWQ_CHECK(s.data<double>()[c] > 0, op, ": scale must be positive, got ", s.data<double>()[c],
                " at channel ", c);
    }
  }
  const int64_t inner = channels == 0 ? 0 : w_floor.numel() / channels;
  return SoftWeightView{channels, inner};
}

}  // namespace nwq
