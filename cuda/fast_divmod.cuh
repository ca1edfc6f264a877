// Index arithmetic for kernels that turn a flat index into coordinates: a 32-bit divider by a
// multiply-high and a shift (Granlund-Montgomery; valid for dividends and divisors below 2^31),
// and a plain 64-bit divider with the same interface for tensors of 2^31 elements or more.
#pragma once
#include <cstdint>

#include "cuda/launch.cuh"

namespace nwq {

constexpr int64_t kIndex32Limit = int64_t(1) << 31;  // Div32 needs every index below this

struct Div32 {
  uint32_t d, m, s;
  Div32() = default;
  explicit Div32(int64_t divisor) : d(static_cast<uint32_t>(divisor)), m(0), s(0) {
    if (d == 0) return;  // never divided by: the kernel has no elements
    while ((uint64_t(1) << s) < d) ++s;
    m = static_cast<uint32_t>(((uint64_t(1) << 32) * ((uint64_t(1) << s) - d)) / d + 1);
  }
  __device__ __forceinline__ uint32_t div(uint32_t n) const { return (__umulhi(n, m) + n) >> s; }
  // q = n / d, r = n % d.
  __device__ __forceinline__ void divmod(uint32_t n, uint32_t& q, uint32_t& r) const {
    q = div(n);
    r = n - q * d;
  }
};

struct Div64 {
  int64_t d;
  Div64() = default;
  explicit Div64(int64_t divisor) : d(divisor) {}
  __device__ __forceinline__ int64_t div(int64_t n) const { return n / d; }
  __device__ __forceinline__ void divmod(int64_t n, int64_t& q, int64_t& r) const {
    q = n / d;
    r = n - q * d;
  }
};

// The index type that goes with each divider.
template <class Div> struct IndexOf;
template <> struct IndexOf<Div32> { using type = uint32_t; };
template <> struct IndexOf<Div64> { using type = int64_t; };

}  // namespace nwq
