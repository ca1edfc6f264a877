// Helpers for the quantization tests: uniform fills and trained-looking BatchNorm statistics, so
// that BN folding and calibration see realistic (not identity) normalizations.
#pragma once
#include "core/rng.h"
#include "models/layers.h"

namespace nwq::test {

inline void fill_uniform(Tensor& t, Rng& rng, float lo, float hi) {
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = rng.uniform(lo, hi);
}

// Trained-looking BN: random affine parameters and running statistics.
inline void randomize_bn(BatchNorm2d& bn, Rng& rng) {
  fill_uniform(bn.weight, rng, 0.5f, 1.5f);
  fill_uniform(bn.bias, rng, -0.3f, 0.3f);
  fill_uniform(bn.running_mean, rng, -0.5f, 0.5f);
  fill_uniform(bn.running_var, rng, 0.2f, 2.0f);
}

// Every BatchNorm2d of the model, from one seeded stream.
inline void randomize_all_bn(Module& model, uint64_t seed) {
  Rng rng(seed);
  for (auto& [path, m] : model.named_modules())
    if (auto* bn = dynamic_cast<BatchNorm2d*>(m)) randomize_bn(*bn, rng);
}

}  // namespace nwq::test
