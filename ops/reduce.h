// Reductions: sum and mean over all or some dims, and sum_to (the adjoint of broadcasting, used
// by every broadcasting op's backward). Summation order is fixed: results do not depend on threads.
#pragma once
#include <cstdint>
#include <vector>

#include "ops/dispatch.h"

namespace nwq {

// Sum / mean of all elements: shape [].
Tensor sum(const Tensor& x);
Tensor mean(const Tensor& x);
// Over `dims` (negative dims count from the end; no repeats). keepdim keeps them as size 1.
// An empty dims list reduces nothing. mean over zero elements is NaN, as in PyTorch.
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);

// Sums grad over the dims along which `shape` was broadcast to grad's shape: leading extra dims
// and dims where shape has 1. Returns grad itself when the shapes already agree.
Tensor sum_to(const Tensor& grad, const Shape& shape);

// ================================ kernels ================================

// x viewed as [outer, reduce, inner] (contiguous), y as [outer, inner]:
// y[o, i] = scale * sum over r of x[o, r, i], summed in double in a fixed order. Assigns y.
struct SumParams {
  int64_t outer, reduce, inner;
  double scale;
};
template <class T> using SumFn = void (*)(const T* x, T* y, SumParams p);
extern KernelSlot<SumFn> sum_kernel;

}  // namespace nwq
