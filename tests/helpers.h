// Shared test helpers: F64 central-difference gradient checks, closeness checks with
// readable failure messages, and loading golden tensors written by tests/golden/make_goldens.py.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "core/tensor_io.h"

namespace nwq::test {

// Checks d(sum(G * f(inputs)))/d(inputs[i]) from backward against central differences, for
// every input with requires_grad set. Inputs must be F64 CPU tensors. Returns the worst error.
double gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                 std::vector<Tensor> inputs, double eps = 1e-6, double tol = 1e-6);

// Max |a - b| / (atol + rtol * |b|) over elements (<= 1 means close). Shapes must match.
double closeness(const Tensor& a, const Tensor& b, double rtol, double atol);
// Max absolute difference.
double max_abs_diff(const Tensor& a, const Tensor& b);

// Tensor from a double list, F64 or F32.
Tensor tensor(const std::vector<double>& values, const Shape& shape, DType dtype = DType::F64);
// Uniform random F64 tensor in [lo, hi) with a fixed seed; requires_grad set when asked.
Tensor random(const Shape& shape, uint64_t seed, double lo = -1, double hi = 1, bool grad = true);

// Uniform random F32 tensor in [lo, hi) with a fixed seed (no gradient).
Tensor rand32(const Shape& shape, uint64_t seed, double lo = -1, double hi = 1);
// True when both tensors (any devices) have the same shape, dtype and bytes.
bool same_bytes(const Tensor& a, const Tensor& b);

// Largest |x| of a tensor on any device (0 for an empty tensor).
double max_abs(const Tensor& t);
// The state_dict entries of a model golden file: every tensor not under the test-data prefixes
// input. eval. train. grad. train_after. (tests/golden/make_goldens.py and make_zoo_goldens.py).
NamedTensors golden_state(const TensorFile& file);

// Path of a golden file in tests/golden/.
std::string golden_path(const std::string& file);

}  // namespace nwq::test

// CHECK_CLOSE(a, b, rtol, atol): fails with the worst ratio when tensors differ.
#define CHECK_CLOSE(a, b, rtol, atol) CHECK(::nwq::test::closeness((a), (b), (rtol), (atol)) <= 1.0)
