// Precise batch-norm statistics, as pycls's compute_precise_bn_stats: every BatchNorm2d's running
// mean and variance recomputed from N training images, replacing the momentum average of training.
#pragma once
#include <cstdint>

#include "data/dataset.h"
#include "models/module.h"

namespace nwq {

struct PreciseBnOptions {
  int64_t images = 8192;  // pycls's BN.NUM_SAMPLES_PRECISE; whole batches of them are used
  int64_t batch = 128;
  uint64_t seed = 0;      // picks the shuffled images
  Device device = Device::cpu();
  int workers = 2;
};

// Runs the model in train mode, without gradients, over floor(images / batch) batches of the
// (augmented, shuffled) training split. With momentum 1 each BatchNorm2d holds the last batch's
// mean m_b and unbiased variance v_b; the new statistics are mean = avg_b m_b and
// var = avg_b (v_b + m_b^2) - mean^2 (pycls's formula). Momenta are restored and the model is left
// in eval mode. Returns the number of images used. Throws when not one batch fits.
int64_t compute_precise_bn_stats(Module& model, const Dataset& train, const PreciseBnOptions& options);

}  // namespace nwq
