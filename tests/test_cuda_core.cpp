// CUDA backend core: transfers, strided gathers, fill/cast/add, the caching allocator, and
// CPU/CUDA parity of the first kernels (relu/relu6, SGD, Adam). Skips without a GPU.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "autograd/engine.h"
#include "core/rng.h"
#include "ops/activation.h"
#include "optim/optimizer.h"
#include "tests/helpers.h"

using namespace nwq;

static const DType kAllDTypes[] = {DType::F32, DType::F64, DType::I64,
                                   DType::I32, DType::U8,  DType::I8};

// Values 0..n-1 wrapped into a range every dtype holds (so casts are exact), as `dtype`.
static Tensor ramp(const Shape& shape, DType dtype) {
  Tensor t = Tensor::empty(shape, DType::F64);
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = double(i % 120) - (dtype == DType::U8 ? 0 : 50);
  return t.to(dtype);
}

static bool same_bytes(const Tensor& a, const Tensor& b) {
  Tensor ha = a.to(Device::cpu()).contiguous(), hb = b.to(Device::cpu()).contiguous();
  if (ha.sizes() != hb.sizes() || ha.dtype() != hb.dtype()) return false;
  size_t bytes = size_t(ha.numel()) * dtype_size(ha.dtype());
  return std::memcmp(ha.raw_data(), hb.raw_data(), bytes) == 0;
}

static Tensor uniform_f32(const Shape& shape, uint64_t seed, double lo, double hi) {
  Rng rng(seed);
  return Tensor::uniform(shape, rng, lo, hi, DType::F32);
}

TEST_SUITE("cuda") {

TEST_CASE("cuda: host -> device -> host round trip for every dtype") {
  if (!cuda_available()) {
    MESSAGE("skipped: no CUDA device");
    return;
  }
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

TEST_CASE("cuda: non-contiguous views gather correctly on either side") {
  if (!cuda_available()) {
    MESSAGE("skipped: no CUDA device");
    return;
  }
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

TEST_CASE("cuda: fill, cast and add_ on the device match the CPU") {
  if (!cuda_available()) {
    MESSAGE("skipped: no CUDA device");
    return;
  }
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
  Tensor a = uniform_f32({1000003}, 1, -1, 1), b = uniform_f32({1000003}, 2, -1, 1);
  Tensor dev_a = a.to(Device::cuda());
  dev_a.add_(b.to(Device::cuda()));
  a.add_(b);
  CHECK(same_bytes(dev_a, a));
}

TEST_CASE("cuda: caching allocator reuses blocks (no cudaMalloc, flat peak)") {
  if (!cuda_available()) {
    MESSAGE("skipped: no CUDA device");
    return;
  }
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

TEST_CASE("cuda: allocator failure names the size, and the device stays usable") {
  if (!cuda_available()) {
    MESSAGE("skipped: no CUDA device");
    return;
  }
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

TEST_CASE("cuda: relu and relu6 forward and backward match the CPU") {
  if (!cuda_available()) {
    MESSAGE("skipped: no CUDA device");
    return;
  }
  for (int64_t n : {1, 7, 1000003}) {
    Tensor x = uniform_f32({n}, 10 + n, -8, 8);
    if (n >= 7) {  // the kinks and a NaN
      float* p = x.data<float>();
      p[1] = 0.0f, p[2] = 6.0f, p[3] = -0.0f, p[4] = std::numeric_limits<float>::quiet_NaN();
    }
    Tensor gy = uniform_f32({n}, 20 + n, -1, 1);
    for (bool six : {false, true}) {
      INFO("n = ", n, six ? " relu6" : " relu");
      Tensor xc = x.clone().set_requires_grad(true);
      Tensor xg = x.to(Device::cuda()).set_requires_grad(true);
      Tensor yc = six ? relu6(xc) : relu(xc);
      Tensor yg = six ? relu6(xg) : relu(xg);
      CHECK(yg.device() == Device::cuda());
      CHECK(same_bytes(yg, yc));
      backward(yc, gy);
      backward(yg, gy.to(Device::cuda()));
      REQUIRE(xg.grad().defined());
      CHECK(xg.grad().device() == Device::cuda());
      CHECK(same_bytes(xg.grad(), xc.grad()));
    }
  }
}

// Runs three optimizer steps on the CPU and the GPU from the same start, comparing p and state.
template <class Opt, class Options>
static void check_optimizer_parity(const char* name, const Options& options, int64_t n) {
  INFO(name, " n = ", n);
  Tensor p0 = uniform_f32({n}, 100 + n, -1, 1);
  Tensor pc = p0.clone().set_requires_grad(true);
  Tensor pg = p0.to(Device::cuda()).set_requires_grad(true);
  Opt cpu({pc}, options), gpu({pg}, options);
  for (int step = 0; step < 3; ++step) {
    Tensor g = uniform_f32({n}, 200 + step, -1, 1);
    pc.set_grad(g);
    pg.set_grad(g.to(Device::cuda()));
    cpu.step();
    gpu.step();
    CHECK(pg.device() == Device::cuda());
    CHECK_CLOSE(pg, pc, 1e-5, 1e-6);  // nvcc fuses multiply-adds; g++ -std=c++17 does not
    for (size_t k = 0; k < cpu.state().size(); ++k) CHECK_CLOSE(gpu.state()[k], cpu.state()[k], 1e-5, 1e-6);
  }
}

TEST_CASE("cuda: SGD and Adam steps match the CPU") {
  if (!cuda_available()) {
    MESSAGE("skipped: no CUDA device");
    return;
  }
  for (int64_t n : {1, 7, 1000003}) {
    check_optimizer_parity<Sgd>("sgd", SgdOptions{0.1, 0.0, 0.0, false}, n);
    check_optimizer_parity<Sgd>("sgd momentum", SgdOptions{0.1, 0.9, 0.01, false}, n);
    check_optimizer_parity<Sgd>("sgd nesterov", SgdOptions{0.1, 0.9, 0.01, true}, n);
    AdamOptions adam;
    adam.lr = 0.01;
    adam.weight_decay = 0.01;
    check_optimizer_parity<Adam>("adam", adam, n);
    adam.decoupled = true;
    adam.weight_decay = 0.1;
    check_optimizer_parity<Adam>("adamw", adam, n);
  }
}

// Expected to fail until every op has its CUDA kernel: lists the slots that still lack one.
TEST_CASE("cuda: every kernel slot has a CUDA kernel") {
  if (!cuda_available()) {
    MESSAGE("skipped: no CUDA device");
    return;
  }
  std::vector<KernelSlotInfo> slots = all_kernel_slots();
  CHECK(!slots.empty());
  std::string missing;
  for (const KernelSlotInfo& slot : slots) {
    if (!slot.has_cuda_f32) missing += (missing.empty() ? "" : ", ") + slot.name;
  }
  if (!missing.empty()) MESSAGE("kernel slots without a CUDA kernel: ", missing);
  for (const KernelSlotInfo& slot : slots) {
    INFO(slot.name);
    CHECK(slot.has_cuda_f32);
  }
}

}  // TEST_SUITE("cuda")
