// The CUDA backend itself: transfers, strided gathers, fill/cast/add, the caching allocator, and
// the kernel slots filled at start-up. Suite `cuda`: skipped without a GPU (tests/test_main.cpp).
#include <doctest/doctest.h>

#include <vector>

#include "core/allocator.h"
#include "ops/dispatch.h"
#include "tests/helpers.h"

using namespace nwq;
using test::rand32;
using test::same_bytes;

static const DType kAllDTypes[] = {DType::F32, DType::F64, DType::I64,
                                   DType::I32, DType::U8,  DType::I8};

// Values 0..n-1 wrapped into a range every dtype holds (so casts are exact), as `dtype`.
static Tensor ramp(const Shape& shape, DType dtype) {
  Tensor t = Tensor::empty(shape, DType::F64);
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = double(i % 120) - (dtype == DType::U8 ? 0 : 50);
  return t.to(dtype);
}

TEST_SUITE("cuda") {

TEST_CASE("cuda backend: host -> device -> host round trip for every dtype") {
  for (DType dtype : kAllDTypes) {
    INFO(dtype_name(dtype));
    for (int64_t n : {0, 1, 7, 1000003}) {
      Tensor host = ramp({n}, dtype);
      Tensor dev = host.to(Device::cuda());
      CHECK(dev.device() == Device::cuda());
      CHECK(same_bytes(dev, host));
      CHECK(same_bytes(dev.clone(), host));  // device -> device copy
    }
  }
}

TEST_CASE("cuda backend: non-contiguous views gather correctly on either side") {
  for (DType dtype : kAllDTypes) {
    INFO(dtype_name(dtype));
    Tensor host = ramp({3, 4, 5, 6}, dtype);
    Tensor dev = host.to(Device::cuda());
    // CPU view moved to the GPU (gathered on the CPU), and GPU view gathered by the GPU.
    Tensor permuted = host.permute({2, 0, 3, 1});
    CHECK(same_bytes(permuted.to(Device::cuda()), permuted.contiguous()));
    CHECK(same_bytes(dev.permute({2, 0, 3, 1}).contiguous(), permuted.contiguous()));
    Tensor sliced = host.slice(1, 1, 4, 2).slice(3, 1, 6, 3);
    CHECK(same_bytes(dev.slice(1, 1, 4, 2).slice(3, 1, 6, 3), sliced));
    CHECK(same_bytes(dev.slice(0, 1, 3).permute({3, 2, 1, 0}), host.slice(0, 1, 3).permute({3, 2, 1, 0})));
  }
  // Eight dims that cannot merge gather; size-1 and mergeable dims are folded first; more throws.
  Tensor eight = ramp(Shape(8, 2), DType::F32);
  std::vector<int64_t> reversed{7, 6, 5, 4, 3, 2, 1, 0};
  CHECK(same_bytes(eight.to(Device::cuda()).permute(reversed).contiguous(), eight.permute(reversed)));
  Tensor padded = ramp({2, 1, 3, 1, 4, 1, 2, 1, 2, 1, 2}, DType::I64);
  for (std::vector<int64_t> dims : {std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 9},
                                    std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 10, 9, 8}}) {
    CHECK(same_bytes(padded.to(Device::cuda()).permute(dims).contiguous(), padded.permute(dims)));
  }
  Tensor ten = Tensor::zeros(Shape(10, 2), DType::U8, Device::cuda());
  CHECK_THROWS_WITH_AS(ten.permute({9, 8, 7, 6, 5, 4, 3, 2, 1, 0}).contiguous(),
                       doctest::Contains("non-mergeable dims"), Error);
}

TEST_CASE("cuda backend: fill, cast and add_ on the device match the CPU") {
  for (DType dtype : kAllDTypes) {
    INFO(dtype_name(dtype));
    for (double value : {0.0, 1.0, -3.0, 100.0}) {
      if (dtype == DType::U8 && value < 0) continue;
      CHECK(same_bytes(Tensor::full({1001}, value, dtype, Device::cuda()),
                       Tensor::full({1001}, value, dtype)));
    }
  }
  CHECK(same_bytes(Tensor::full({5}, -0.0, DType::F32, Device::cuda()), Tensor::full({5}, -0.0)));
  for (DType from : kAllDTypes) {
    Tensor host = ramp({777}, from);
    Tensor dev = host.to(Device::cuda());
    for (DType to : kAllDTypes) {
      if (to == DType::U8 && from != DType::U8) continue;  // negative values: not representable
      INFO(dtype_name(from), " -> ", dtype_name(to));
      CHECK(same_bytes(dev.to(to), host.to(to)));
    }
  }
  // Fractional floats truncate toward zero on both devices.
  Tensor frac = test::tensor({-2.75, -0.5, 0.5, 2.25, 7.999}, {5}, DType::F32);
  CHECK(same_bytes(frac.to(Device::cuda()).to(DType::I32), frac.to(DType::I32)));
  Tensor a = rand32({1000003}, 1, -1, 1), b = rand32({1000003}, 2, -1, 1);
  Tensor dev_a = a.to(Device::cuda());
  dev_a.add_(b.to(Device::cuda()));
  a.add_(b);
  CHECK(same_bytes(dev_a, a));
}

TEST_CASE("cuda backend: caching allocator reuses blocks (no cudaMalloc, flat peak)") {
  DeviceBackend& backend = cuda_backend();
  { Tensor warm = Tensor::empty({1000}, DType::F32, Device::cuda()); }  // one block of this size
  backend.reset_peak();
  DeviceMemoryStats before = backend.memory_stats();
  CHECK(before.peak == before.in_use);
  for (int i = 0; i < 1000; ++i) {
    Tensor t = Tensor::empty({1000}, DType::F32, Device::cuda());
    CHECK(backend.memory_stats().in_use == before.in_use + 4096);  // 4000 B rounded to 512 B steps
  }
  DeviceMemoryStats after = backend.memory_stats();
  CHECK(after.malloc_calls == before.malloc_calls);
  CHECK(after.free_calls == before.free_calls);
  CHECK(after.peak == before.in_use + 4096);
  CHECK(after.in_use == before.in_use);
  CHECK(after.cached == before.cached);
}

TEST_CASE("cuda backend: allocator failure names the size, and the device stays usable") {
  DeviceBackend& backend = cuda_backend();
  { Tensor cached = Tensor::empty({12345}, DType::F32, Device::cuda()); }
  CHECK(backend.memory_stats().cached > 0);
  size_t huge = size_t(1) << 50;  // 1 PiB
  CHECK_THROWS_WITH_AS(allocator_for(Device::cuda())->allocate(huge),
                       doctest::Contains("out of memory allocating 1125899906842624 bytes"), Error);
  CHECK(backend.memory_stats().cached == 0);  // the cache was released before the retry
  Tensor ok = Tensor::full({10}, 2.0, DType::F32, Device::cuda());  // no sticky error left behind
  CHECK(ok.to_vector<float>() == std::vector<float>(10, 2.0f));
  CHECK_NOTHROW(backend.synchronize());
  backend.empty_cache();
  CHECK(backend.memory_stats().cached == 0);
  CHECK_NOTHROW(backend.set_tf32(true));
  CHECK_NOTHROW(backend.set_tf32(false));
}

// The slots were filled from cuda/kernel_list.h when the backend started (init_backends() found
// this GPU); the kernels suite checks the same list without a GPU.
TEST_CASE("cuda backend: start-up filled every kernel slot's CUDA kernel") {
  std::vector<KernelSlotInfo> slots = all_kernel_slots();
  CHECK(!slots.empty());
  for (const KernelSlotInfo& slot : slots) {
    INFO(slot.name);
    CHECK(slot.has_cuda_f32);
  }
}

}  // TEST_SUITE("cuda")
