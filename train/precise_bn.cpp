// Precise BN: the statistics of every BatchNorm2d averaged over a fixed set of training batches
// (pycls/core/net.py, compute_precise_bn_stats), accumulated on the host in double precision.
#include "train/precise_bn.h"

#include <vector>

#include "autograd/grad_mode.h"
#include "models/layers.h"
#include "train/trainer.h"

namespace nwq {

int64_t compute_precise_bn_stats(Module& model, const Dataset& train,
                                 const PreciseBnOptions& options) {
  std::vector<BatchNorm2d*> bns;
  for (auto& [name, m] : model.named_modules())
    if (auto* bn = dynamic_cast<BatchNorm2d*>(m)) bns.push_back(bn);
  DataLoader loader(train, training_loader_options(options.batch, options.seed, options.workers,
                                                   options.images));
  const int64_t batches = loader.num_batches();
  NWQ_CHECK(batches > 0, "precise BN: ", options.images, " images (of ", train.size(),
            ") do not fill one batch of ", options.batch);
  if (bns.empty()) return 0;

  std::vector<double> momenta;
  std::vector<std::vector<double>> means, squares;  // avg of m_b, avg of v_b + m_b^2
  for (BatchNorm2d* bn : bns) {
    momenta.push_back(bn->momentum());
    bn->set_momentum(1.0);
    means.emplace_back(bn->num_features(), 0.0);
    squares.emplace_back(bn->num_features(), 0.0);
  }
  model.train();
  NoGradGuard no_grad;
  loader.for_each_batch(0, [&](const Batch& batch, int64_t) {
    model.forward(batch.images.to(options.device));
    for (size_t i = 0; i < bns.size(); ++i) {
      std::vector<float> m = bns[i]->running_mean.to_vector<float>();
      std::vector<float> v = bns[i]->running_var.to_vector<float>();
      for (size_t c = 0; c < m.size(); ++c) {
        means[i][c] += double(m[c]) / double(batches);
        squares[i][c] += (double(v[c]) + double(m[c]) * double(m[c])) / double(batches);
      }
    }
  });
  for (size_t i = 0; i < bns.size(); ++i) {
    std::vector<float> mean(means[i].size()), var(means[i].size());
    for (size_t c = 0; c < mean.size(); ++c) {
      mean[c] = float(means[i][c]);
      var[c] = float(squares[i][c] - means[i][c] * means[i][c]);
    }
    const Shape shape = {int64_t(mean.size())};
    bns[i]->running_mean.copy_(Tensor::from_vector(mean, shape, bns[i]->running_mean.device()));
    bns[i]->running_var.copy_(Tensor::from_vector(var, shape, bns[i]->running_var.device()));
    bns[i]->set_momentum(momenta[i]);
  }
  model.eval();
  return batches * options.batch;
}

}  // namespace nwq
