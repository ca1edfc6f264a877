// Shape ops: reshape/flatten views and copies, permute/transpose, concat along any dim,
// pad_channels and subsample_spatial (the ResNet option-A shortcut), gradient checks and errors.
#include <doctest/doctest.h>

#include <numeric>

#include "autograd/engine.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "ops/shape.h"
#include "tests/helpers.h"

using namespace nwq;

namespace {

Tensor iota(const Shape& shape, DType dtype = DType::F64) {
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  std::iota(v.begin(), v.end(), 0.0);
  return test::tensor(v, shape, dtype);
}

using TensorFn = std::function<Tensor(const std::vector<Tensor>&)>;

}  // namespace

TEST_CASE("shape: reshape views contiguous tensors, copies others, infers -1") {
  Tensor x = iota({2, 3, 4});
  Tensor y = reshape(x, {4, -1});
  CHECK(y.sizes() == Shape{4, 6});
  CHECK(y.raw_data() == x.raw_data());
  CHECK(reshape(x, {-1}).sizes() == Shape{24});
  CHECK(reshape(Tensor::zeros({0, 4}), {-1, 2}).sizes() == Shape{0, 2});
  Tensor t = x.permute({2, 0, 1});
  Tensor z = reshape(t, {4, 6});
  CHECK(z.raw_data() != x.raw_data());
  CHECK(z.to_vector<double>() == t.contiguous().to_vector<double>());
  test::gradcheck([](const std::vector<Tensor>& in) { return reshape(in[0], {3, -1, 2}); },
                  {test::random({2, 3, 4}, 1)});
}

TEST_CASE("shape: reshape never turns the input into a non-leaf") {
  Tensor x = test::random({2, 3}, 1);
  Tensor y = reshape(x, {6});
  CHECK(x.is_leaf());
  CHECK(y.requires_grad());
  backward(sum(mul(y, 2.0)));
  CHECK(x.grad().to_vector<double>() == std::vector<double>(6, 2.0));
}

TEST_CASE("shape: reshape errors name the op, the tensor and the shape") {
  Tensor x = iota({2, 3});
  CHECK_THROWS_WITH_AS(reshape(x, {4, 2}), "reshape: cannot reshape float64[2, 3] on cpu to [4, 2]",
                       Error);
  CHECK_THROWS_WITH_AS(reshape(x, {-1, -1}), doctest::Contains("reshape: invalid shape [-1, -1]"),
                       Error);
  CHECK_THROWS_WITH_AS(reshape(x, {-2, 3}), doctest::Contains("reshape: invalid shape"), Error);
  CHECK_THROWS_WITH_AS(reshape(x, {4, -1}), doctest::Contains("reshape: cannot reshape"), Error);
  CHECK_THROWS_WITH_AS(reshape(x, {0, -1}), doctest::Contains("reshape: cannot infer -1"), Error);
}

TEST_CASE("shape: flatten") {
  Tensor x = iota({2, 3, 4, 5});
  CHECK(flatten(x).sizes() == Shape{2, 60});
  CHECK(flatten(x, 0).sizes() == Shape{120});
  CHECK(flatten(x, 2).sizes() == Shape{2, 3, 20});
  CHECK(flatten(x, -1).sizes() == Shape{2, 3, 4, 5});
  CHECK(flatten(Tensor::zeros({0, 3, 2})).sizes() == Shape{0, 6});
  CHECK(flatten(x).to_vector<double>() == x.to_vector<double>());
  test::gradcheck([](const std::vector<Tensor>& in) { return flatten(in[0]); },
                  {test::random({2, 3, 2}, 2)});
  CHECK_THROWS_WITH_AS(flatten(x, 4), "flatten: dim 4 out of range for float64[2, 3, 4, 5] on cpu",
                       Error);
}

TEST_CASE("shape: permute and transpose") {
  Tensor x = iota({2, 3, 4});
  Tensor y = permute(x, {2, 0, 1});
  CHECK(y.sizes() == Shape{4, 2, 3});
  CHECK(y.is_contiguous());
  CHECK(y.to_vector<double>() == x.permute({2, 0, 1}).contiguous().to_vector<double>());
  CHECK(permute(x, {-1, 0, -2}).to_vector<double>() == y.to_vector<double>());
  Tensor t = transpose(x, 0, -1);
  CHECK(t.sizes() == Shape{4, 3, 2});
  CHECK(t.to_vector<double>() == x.permute({2, 1, 0}).contiguous().to_vector<double>());
  test::gradcheck([](const std::vector<Tensor>& in) { return permute(in[0], {1, 2, 0}); },
                  {test::random({2, 3, 4}, 3)});
  test::gradcheck([](const std::vector<Tensor>& in) { return transpose(in[0], 1, 2); },
                  {test::random({2, 3, 4}, 4)});
  CHECK_THROWS_WITH_AS(permute(x, {0, 1}), "permute: 2 dims given for float64[2, 3, 4] on cpu",
                       Error);
  CHECK_THROWS_WITH_AS(permute(x, {0, 1, -3}),
                       "permute: dim -3 repeated for float64[2, 3, 4] on cpu", Error);
  CHECK_THROWS_WITH_AS(transpose(x, 0, 3), doctest::Contains("transpose: dim 3 out of range"),
                       Error);
}

TEST_CASE("shape: concat along any dim") {
  Tensor a = iota({2, 2, 3});
  Tensor b = add(iota({2, 1, 3}), 100.0);
  Tensor y = concat({a, b}, 1);
  CHECK(y.sizes() == Shape{2, 3, 3});
  CHECK(y.to_vector<double>() ==
        std::vector<double>{0, 1, 2, 3, 4, 5, 100, 101, 102, 6, 7, 8, 9, 10, 11, 103, 104, 105});
  Tensor c = iota({1, 2, 3});
  CHECK(concat({a, c, a}, 0).sizes() == Shape{5, 2, 3});
  CHECK(concat({a, c}, -3).to_vector<double>()[12] == 0.0);
  Tensor d = iota({2, 2, 1});
  Tensor z = concat({a, d}, -1);
  CHECK(z.sizes() == Shape{2, 2, 4});
  CHECK(z.to_vector<double>() == std::vector<double>{0, 1, 2, 0, 3, 4, 5, 1, 6, 7, 8, 2, 9, 10, 11, 3});
  CHECK(concat({a}, 2).to_vector<double>() == a.to_vector<double>());
  CHECK(concat({a, Tensor::zeros({2, 0, 3}, DType::F64)}, 1).sizes() == Shape{2, 2, 3});
  for (int64_t dim : {0, 1, 2}) {
    Shape sb = {2, 2, 3};
    sb[dim] = 1;
    test::gradcheck([dim](const std::vector<Tensor>& in) { return concat({in[0], in[1], in[0]}, dim); },
                    {test::random({2, 2, 3}, 5), test::random(sb, 6)});
  }
  // Only the second input needs a gradient.
  Tensor p = iota({2, 2}), q = test::random({2, 1}, 7);
  backward(sum(concat({p, q}, 1)));
  CHECK(q.grad().to_vector<double>() == std::vector<double>{1, 1});
}

TEST_CASE("shape: concat errors") {
  Tensor a = iota({2, 3});
  CHECK_THROWS_WITH_AS(concat({}, 0), "concat: no tensors given", Error);
  CHECK_THROWS_WITH_AS(concat({a, iota({3, 3})}, 1),
                       "concat: shapes [2, 3] and [3, 3] differ outside dim 1", Error);
  CHECK_THROWS_WITH_AS(concat({a, iota({2, 3, 1})}, 0),
                       "concat: shapes [2, 3] and [2, 3, 1] differ outside dim 0", Error);
  CHECK_THROWS_WITH_AS(concat({a, a.to(DType::F32)}, 0), doctest::Contains("concat: inputs disagree"),
                       Error);
  CHECK_THROWS_WITH_AS(concat({a, a}, 2), "concat: dim 2 out of range for float64[2, 3] on cpu",
                       Error);
}

TEST_CASE("shape: pad_channels adds zero channels on both sides") {
  Tensor x = add(iota({2, 2, 1, 2}), 1.0);
  Tensor y = pad_channels(x, 1, 2);
  CHECK(y.sizes() == Shape{2, 5, 1, 2});
  CHECK(y.to_vector<double>() ==
        std::vector<double>{0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 5, 6, 7, 8, 0, 0, 0, 0});
  CHECK(pad_channels(x, 0, 0).to_vector<double>() == x.to_vector<double>());
  test::gradcheck([](const std::vector<Tensor>& in) { return pad_channels(in[0], 2, 1); },
                  {test::random({2, 3, 2, 2}, 8)});
  CHECK_THROWS_WITH_AS(pad_channels(iota({2, 3}), 1, 1),
                       "pad_channels: expected an NCHW tensor (4 dims), got float64[2, 3] on cpu",
                       Error);
  CHECK_THROWS_WITH_AS(pad_channels(x, -1, 1), doctest::Contains("pad_channels: negative padding"),
                       Error);
}

TEST_CASE("shape: subsample_spatial takes x[:, :, ::s, ::s]") {
  Tensor x = iota({1, 2, 5, 7});
  Tensor y = subsample_spatial(x, 2);
  CHECK(y.sizes() == Shape{1, 2, 3, 4});
  CHECK(y.to_vector<double>() == x.slice(2, 0, 5, 2).slice(3, 0, 7, 2).contiguous().to_vector<double>());
  CHECK(subsample_spatial(x, 3).sizes() == Shape{1, 2, 2, 3});
  CHECK(subsample_spatial(x, 1).to_vector<double>() == x.to_vector<double>());
  CHECK(subsample_spatial(x, 9).to_vector<double>() == std::vector<double>{0, 35});
  Tensor f = subsample_spatial(iota({2, 3, 8, 8}, DType::F32), 2);
  CHECK(f.dtype() == DType::F32);
  CHECK(f.to_vector<float>()[1] == 2.0f);
  for (int64_t s : {1, 2, 3}) {
    test::gradcheck([s](const std::vector<Tensor>& in) { return subsample_spatial(in[0], s); },
                    {test::random({2, 2, 5, 4}, 9)});
  }
  CHECK_THROWS_WITH_AS(subsample_spatial(x, 0),
                       "subsample_spatial: stride must be >= 1, got 0 for float64[1, 2, 5, 7] on cpu",
                       Error);
  CHECK_THROWS_WITH_AS(subsample_spatial(iota({2, 3, 4}), 2),
                       doctest::Contains("subsample_spatial: expected an NCHW tensor"), Error);
}

TEST_CASE("shape: the option-A shortcut composes and differentiates") {
  const int64_t planes = 8;  // 4 -> 8 channels, stride 2, as in ResNet-20's layer2.0
  auto shortcut = [](const std::vector<Tensor>& in) {
    return pad_channels(subsample_spatial(in[0], 2), planes / 4, planes / 4);
  };
  Tensor x = test::random({2, 4, 6, 6}, 10);
  CHECK(shortcut({x}).sizes() == Shape{2, 8, 3, 3});
  test::gradcheck(shortcut, {x});
}
