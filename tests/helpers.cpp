// Implementation of the shared test helpers (gradient check, closeness, random tensors).
// The gradient check never uses other ops: it forms sum(G * y) on the host.
#include "tests/helpers.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "core/rng.h"

namespace nwq::test {

static double weighted_sum(const Tensor& y, const Tensor& g) {
  std::vector<double> yv = y.to(DType::F64).to_vector<double>();
  std::vector<double> gv = g.to_vector<double>();
  double s = 0;
  for (size_t i = 0; i < yv.size(); ++i) s += yv[i] * gv[i];
  return s;
}

double gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                 std::vector<Tensor> inputs, double eps, double tol) {
  for (Tensor& t : inputs) {
    if (t.defined() && t.requires_grad()) t.zero_grad();
  }
  Tensor y = f(inputs);
  Tensor g = random(y.sizes(), 12345, -1, 1, false);
  backward(y, g.to(y.dtype()));
  double worst = 0;
  NoGradGuard no_grad;
  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor& x = inputs[k];
    if (!x.defined() || !x.requires_grad()) continue;
    REQUIRE_MESSAGE(x.grad().defined(), "input ", k, " got no gradient");
    std::vector<double> analytic = x.grad().to_vector<double>();
    double* p = x.data<double>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      double saved = p[i];
      p[i] = saved + eps;
      double plus = weighted_sum(f(inputs), g);
      p[i] = saved - eps;
      double minus = weighted_sum(f(inputs), g);
      p[i] = saved;
      double numeric = (plus - minus) / (2 * eps);
      double err = std::fabs(numeric - analytic[i]) / (1.0 + std::fabs(numeric));
      worst = std::max(worst, err);
      if (err > tol) {
        FAIL_CHECK("gradient mismatch: input ", k, " element ", i, " analytic ", analytic[i],
                   " numeric ", numeric);
        return worst;
      }
    }
  }
  return worst;
}

double closeness(const Tensor& a, const Tensor& b, double rtol, double atol) {
  REQUIRE_MESSAGE(a.sizes() == b.sizes(), "shapes differ: ", a.describe(), " vs ", b.describe());
  std::vector<double> av = a.to(Device::cpu()).to(DType::F64).to_vector<double>();
  std::vector<double> bv = b.to(Device::cpu()).to(DType::F64).to_vector<double>();
  double worst = 0;
  size_t worst_i = 0;
  for (size_t i = 0; i < av.size(); ++i) {
    double diff = std::fabs(av[i] - bv[i]);
    double r = diff == 0 ? 0.0 : diff / (atol + rtol * std::fabs(bv[i]));  // 0/0 is a match
    if (!(r <= worst)) {  // also catches NaN
      worst = std::isnan(r) ? INFINITY : r;
      worst_i = i;
    }
  }
  if (worst > 1.0) {
    MESSAGE("worst element ", worst_i, ": ", av[worst_i], " vs ", bv[worst_i], " (ratio ", worst,
            ")");
  }
  return worst;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  std::vector<double> av = a.to(Device::cpu()).to(DType::F64).to_vector<double>();
  std::vector<double> bv = b.to(Device::cpu()).to(DType::F64).to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < av.size(); ++i) worst = std::max(worst, std::fabs(av[i] - bv[i]));
  return worst;
}

Tensor tensor(const std::vector<double>& values, const Shape& shape, DType dtype) {
  return Tensor::from_vector(values, shape).to(dtype);
}

Tensor random(const Shape& shape, uint64_t seed, double lo, double hi, bool grad) {
  Rng rng(seed);
  Tensor t = Tensor::uniform(shape, rng, lo, hi, DType::F64);
  if (grad) t.set_requires_grad(true);
  return t;
}

Tensor rand32(const Shape& shape, uint64_t seed, double lo, double hi) {
  Rng rng(seed);
  return Tensor::uniform(shape, rng, lo, hi, DType::F32);
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  Tensor ha = a.to(Device::cpu()).contiguous(), hb = b.to(Device::cpu()).contiguous();
  if (ha.sizes() != hb.sizes() || ha.dtype() != hb.dtype()) return false;
  size_t bytes = size_t(ha.numel()) * dtype_size(ha.dtype());
  return std::memcmp(ha.raw_data(), hb.raw_data(), bytes) == 0;
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to(Device::cpu()).to(DType::F64).to_vector<double>()) m = std::max(m, std::fabs(v));
  return m;
}

NamedTensors golden_state(const TensorFile& file) {
  NamedTensors out;
  for (const auto& [name, t] : file.tensors) {
    bool data = false;
    for (const char* prefix : {"input.", "eval.", "train.", "grad.", "train_after."}) {
      data = data || name.rfind(prefix, 0) == 0;
    }
    if (!data) out.emplace_back(name, t);
  }
  return out;
}

std::string golden_path(const std::string& file) { return "tests/golden/" + file; }

}  // namespace nwq::test
