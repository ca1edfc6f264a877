// Random tensor factories drawn from nwq's own Rng (the same values on every machine).
// Values are generated on the host in F64 and cast to the requested dtype.
#include "core/rng.h"
#include "core/tensor.h"

namespace nwq {

Tensor Tensor::uniform(const Shape& shape, Rng& rng, double lo, double hi, DType dtype) {
  Tensor t = empty(shape, DType::F64);
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = lo + (hi - lo) * rng.uniform_f64();
  return t.to(dtype);
}

Tensor Tensor::normal(const Shape& shape, Rng& rng, double mean, double std, DType dtype) {
  Tensor t = empty(shape, DType::F64);
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = mean + std * rng.normal_f64();
  return t.to(dtype);
}

}  // namespace nwq
