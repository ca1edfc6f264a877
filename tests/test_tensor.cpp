// Tensor core: factories, views, copies, casts, device checks and error messages.
#include <doctest/doctest.h>

#include "core/rng.h"
#include "core/tensor.h"
#include "tests/helpers.h"

using namespace nwq;

TEST_CASE("tensor: factories, metadata and item") {
  Tensor t = Tensor::full({2, 3}, 1.5);
  CHECK(t.numel() == 6);
  CHECK(t.dim() == 2);
  CHECK(t.size(-1) == 3);
  CHECK(t.is_contiguous());
  CHECK(t.strides() == Shape{3, 1});
  CHECK(t.to_vector<float>() == std::vector<float>(6, 1.5f));
  CHECK(Tensor::scalar(2.5).item() == 2.5);
  CHECK(Tensor::zeros({0, 4}).numel() == 0);
  CHECK_THROWS_WITH_AS(Tensor::zeros({2, -1}), doctest::Contains("negative"), Error);
  CHECK_THROWS_WITH_AS(t.item(), doctest::Contains("6 elements"), Error);
  CHECK(reinterpret_cast<uintptr_t>(t.raw_data()) % 64 == 0);
}

TEST_CASE("tensor: copying aliases, clone copies") {
  Tensor a = Tensor::zeros({4});
  Tensor alias = a;
  Tensor copy = a.clone();
  a.fill_(3);
  CHECK(alias.to_vector<float>()[2] == 3.0f);
  CHECK(copy.to_vector<float>()[2] == 0.0f);
}

TEST_CASE("tensor: views share storage and contiguous() gathers") {
  Tensor a = Tensor::from_vector<float>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {3, 4});
  Tensor v = a.view({2, -1});
  CHECK(v.sizes() == Shape{2, 6});
  Tensor p = a.permute({1, 0});
  CHECK_FALSE(p.is_contiguous());
  CHECK(p.contiguous().to_vector<float>() ==
        std::vector<float>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
  Tensor s = a.slice(1, 1, 4, 2);  // columns 1 and 3
  CHECK(s.sizes() == Shape{3, 2});
  CHECK(s.contiguous().to_vector<float>() == std::vector<float>{1, 3, 5, 7, 9, 11});
  Tensor r = a.slice(0, 1, 3);
  r.contiguous();
  CHECK(r.contiguous().to_vector<float>()[0] == 4.0f);
  CHECK_THROWS_WITH_AS(p.view({12}), doctest::Contains("not contiguous"), Error);
  CHECK_THROWS_WITH_AS(a.view({5, -1}), doctest::Contains("cannot infer"), Error);
}

TEST_CASE("tensor: casts round-trip and data<T> checks the dtype") {
  Tensor a = Tensor::from_vector<double>({1.25, -2.5, 3.0}, {3});
  CHECK(a.to(DType::F32).to(DType::F64).to_vector<double>() == a.to_vector<double>());
  CHECK(a.to(DType::I64).to_vector<int64_t>() == std::vector<int64_t>{1, -2, 3});
  CHECK_THROWS_WITH_AS(a.data<float>(), doctest::Contains("float64"), Error);
}

TEST_CASE("tensor: no CUDA in a CPU run gives a clear error") {
  if (cuda_available()) return;
  CHECK_THROWS_WITH_AS(Tensor::zeros({2}).to(Device::cuda()), doctest::Contains("CUDA"), Error);
  CHECK(parse_device("cuda:1").index == 1);
  CHECK_THROWS_WITH_AS(parse_device("gpu"), doctest::Contains("--device"), Error);
}

TEST_CASE("tensor: random factories are deterministic per seed") {
  Rng r1(7), r2(7);
  Tensor a = Tensor::normal({100}, r1);
  Tensor b = Tensor::normal({100}, r2);
  CHECK(a.to_vector<float>() == b.to_vector<float>());
  Rng r3(8);
  CHECK(Tensor::normal({100}, r3).to_vector<float>() != a.to_vector<float>());
}
