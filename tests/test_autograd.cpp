// Autograd engine: leaf gradients, accumulation over repeated use, needs-grad masks,
// NoGradGuard, and freeing of the graph after backward.
#include <doctest/doctest.h>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "ops/activation.h"
#include "tests/helpers.h"

using namespace nwq;

TEST_CASE("autograd: relu gradient reaches a leaf and accumulates across two backward calls") {
  Tensor x = test::tensor({-1, 2, -3, 4}, {4}).set_requires_grad(true);
  Tensor g = test::tensor({10, 20, 30, 40}, {4});
  backward(relu(x), g);
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0, 20, 0, 40});
  backward(relu(x), g);
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0, 40, 0, 80});
}

TEST_CASE("autograd: a graph is freed after backward") {
  Tensor x = test::tensor({1, 2}, {2}).set_requires_grad(true);
  Tensor y = relu(relu(x));
  backward(y, test::tensor({1, 1}, {2}));
  CHECK_THROWS_WITH_AS(backward(y, test::tensor({1, 1}, {2})), doctest::Contains("freed"), Error);
}

TEST_CASE("autograd: NoGradGuard records nothing; plain tensors stay leaves") {
  Tensor x = test::tensor({1, 2}, {2}).set_requires_grad(true);
  {
    NoGradGuard guard;
    Tensor y = relu(x);
    CHECK_FALSE(y.requires_grad());
    CHECK(y.is_leaf());
  }
  CHECK(relu(x).requires_grad());
  CHECK_FALSE(relu(test::tensor({1}, {1})).requires_grad());
  CHECK_THROWS_WITH_AS(backward(test::tensor({1}, {1})), doctest::Contains("does not require"),
                       Error);
}

TEST_CASE("autograd: implicit gradient only for one-element roots") {
  Tensor x = test::tensor({1, 2}, {2}).set_requires_grad(true);
  CHECK_THROWS_WITH_AS(backward(relu(x)), doctest::Contains("one-element"), Error);
}

TEST_CASE("autograd: gradient check of relu and relu6 away from kinks") {
  Tensor x = test::tensor({-1.3, 0.4, 2.2, 5.1, 6.7, -0.2, 3.3, 7.5}, {2, 4}).set_requires_grad(true);
  test::gradcheck([](const std::vector<Tensor>& in) { return relu(in[0]); }, {x});
  test::gradcheck([](const std::vector<Tensor>& in) { return relu6(in[0]); }, {x});
}

TEST_CASE("autograd: a non-contiguous leaf still receives its gradient") {
  Tensor base = test::tensor({-1, 2, 3, -4, 5, 6}, {2, 3});
  Tensor xt = base.permute({1, 0});  // a strided leaf: ops run on a contiguous copy of it
  xt.set_requires_grad(true);
  CHECK_FALSE(xt.is_contiguous());
  backward(relu(xt), test::tensor({1, 2, 3, 4, 5, 6}, {3, 2}));
  REQUIRE(xt.grad().defined());
  // xt = [[-1,-4],[2,5],[3,6]]: the gradient passes where xt > 0.
  CHECK(xt.grad().to_vector<double>() == std::vector<double>{0, 0, 3, 4, 5, 6});
}
