// Example: tensors and reverse-mode autograd in one page. Builds a small expression, runs
// backward, and checks every gradient against a central finite difference.
//
// What it teaches:
//   - making tensors (Tensor::from_vector), marking leaves with set_requires_grad(true);
//   - ops and operators (+, *, sigmoid, square, sum, mean) record a graph as they run;
//   - backward(loss) fills .grad() of every leaf that requires a gradient;
//   - NoGradGuard turns recording off (here: for the finite-difference evaluations);
//   - float64 on the CPU is for checks like this one (float32 differences would be noisy).
// Run: build/examples/autograd_basics   (no arguments, well under a second)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "core/tensor.h"
#include "ops/backend.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"

using namespace nwq;

// The expression: f(x, w) = sum(sigmoid(x * w) * x) + mean(x^2), where w [3] is broadcast
// over the rows of x [2, 3]. Any composition of ops would do.
Tensor expression(const Tensor& x, const Tensor& w) {
  return sum(sigmoid(x * w) * x) + mean(square(x));
}

// d f / d t[i] by central differences: (f(t + h e_i) - f(t - h e_i)) / 2h, one element at a time.
// t is a leaf; its values are changed in place and put back.
std::vector<double> numeric_gradient(const Tensor& x, const Tensor& w, const Tensor& t) {
  NoGradGuard no_grad;  // the evaluations below record nothing
  const double h = 1e-6;
  double* p = t.data<double>();
  std::vector<double> grad(t.numel());
  for (int64_t i = 0; i < t.numel(); ++i) {
    const double saved = p[i];
    p[i] = saved + h;
    const double up = expression(x, w).item();
    p[i] = saved - h;
    const double down = expression(x, w).item();
    p[i] = saved;
    grad[i] = (up - down) / (2 * h);
  }
  return grad;
}

// Prints analytic and numeric gradients side by side; returns the largest difference.
double compare(const char* name, const Tensor& t, const std::vector<double>& numeric) {
  const std::vector<double> analytic = t.grad().to_vector<double>();
  double worst = 0;
  std::printf("d f / d %s:\n", name);
  for (size_t i = 0; i < analytic.size(); ++i) {
    std::printf("  [%zu]  backward %+.8f   finite difference %+.8f\n", i, analytic[i], numeric[i]);
    worst = std::max(worst, std::fabs(analytic[i] - numeric[i]));
  }
  return worst;
}

int main() {
  init_backends();  // every program calls this first (CUDA kernels, when there are any)

  // Two leaves in float64. Copying a Tensor aliases; clone() would copy.
  Tensor x = Tensor::from_vector<double>({0.5, -1.0, 2.0, 1.5, 0.25, -0.75}, {2, 3});
  Tensor w = Tensor::from_vector<double>({1.0, -2.0, 0.5}, {3});
  x.set_requires_grad(true);
  w.set_requires_grad(true);
  std::printf("x: %s, w: %s\n", x.describe().c_str(), w.describe().c_str());

  // The forward pass records one node per op; the result knows the node that made it.
  Tensor f = expression(x, w);
  std::printf("f = sum(sigmoid(x * w) * x) + mean(x^2) = %.8f  (made by node '%s')\n", f.item(),
              f.grad_fn()->name.c_str());

  // Backward: one reverse walk over the graph; leaves receive .grad(); the graph is freed.
  backward(f);

  const double worst_x = compare("x", x, numeric_gradient(x, w, x));
  const double worst_w = compare("w", w, numeric_gradient(x, w, w));
  const double worst = std::max(worst_x, worst_w);
  std::printf("largest |backward - finite difference| = %.3g\n", worst);
  if (worst > 1e-6) {
    std::printf("gradient check FAILED\n");
    return 1;
  }
  std::printf("gradient check passed\n");
  return 0;
}
