// xoshiro256** generator, splitmix64 seeding and the maps from raw bits to uniform, normal,
// Bernoulli and integer values. Every map is written out here (no <random> distributions, whose
// algorithms differ between standard libraries) so that a seed means the same numbers everywhere.
#include "core/rng.h"

#include <cmath>
#include <utility>

#include "core/error.h"

namespace nwq {
namespace {

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// The splitmix64 output function on its own: a strong 64-bit mixer (a bijection).
uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

constexpr double kTwoPi = 6.283185307179586476925286766559;

}  // namespace

uint64_t splitmix64_next(uint64_t& state) {
  state += 0x9e3779b97f4a7c15ULL;
  return mix64(state);
}

Rng::Rng(uint64_t seed) {
  // Four consecutive splitmix64 outputs are distinct (mix64 is a bijection), so never all zero.
  uint64_t sm = seed;
  for (uint64_t& word : s_) word = splitmix64_next(sm);
}

uint64_t Rng::next_u64() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

uint32_t Rng::next_u32() { return static_cast<uint32_t>(next_u64() >> 32); }

float Rng::uniform() {
  // Top 24 bits times 2^-24: exactly representable in float, largest value 1 - 2^-24.
  return static_cast<float>(next_u64() >> 40) * 0x1.0p-24f;
}

double Rng::uniform_f64() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

float Rng::uniform(float lo, float hi) {
  NWQ_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo < hi,
            "Rng::uniform: need finite lo < hi, got lo=", lo, " hi=", hi);
  const float width = hi - lo;
  // In double the product of two floats is exact, so the one rounding of the sum cannot change
  // if the compiler fuses it into an FMA: the result is the same on every build.
  const double value = static_cast<double>(lo) + static_cast<double>(width) * uniform();
  const float result = static_cast<float>(value);
  // Rounding to float can land exactly on hi; keep the interval half-open.
  return result < hi ? result : std::nextafter(hi, lo);
}

double Rng::normal_f64() {
  // Box-Muller, keeping only the cosine branch. Dropping the sine value (instead of caching it)
  // keeps the whole generator state in s_, so state()/set_state() and split() stay exact.
  const double u1 = 1.0 - uniform_f64();  // (0, 1]: log(u1) is finite
  const double u2 = uniform_f64();
  const double radius = std::sqrt(-2.0 * std::log(u1));
  return radius * std::cos(kTwoPi * u2);
}

float Rng::normal() { return static_cast<float>(normal_f64()); }

bool Rng::bernoulli(double p) {
  NWQ_CHECK(p >= 0.0 && p <= 1.0, "Rng::bernoulli: p must be in [0, 1], got ", p);
  return uniform_f64() < p;
}

int64_t Rng::randint(int64_t n) {
  NWQ_CHECK(n > 0, "Rng::randint: n must be positive, got ", n);
  const uint64_t bound = static_cast<uint64_t>(n);
  // 2^64 mod bound. Raw values below it are rejected; the remaining 2^64 - threshold values are
  // a whole number of copies of [0, bound), so x % bound is exactly uniform.
  const uint64_t threshold = (0 - bound) % bound;
  while (true) {
    const uint64_t x = next_u64();
    if (x >= threshold) return static_cast<int64_t>(x % bound);
  }
}

std::vector<int64_t> Rng::permutation(int64_t n) {
  NWQ_CHECK(n >= 0, "Rng::permutation: n must be non-negative, got ", n);
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  // Fisher-Yates: position i takes a uniformly chosen element among those not yet placed.
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j = randint(i + 1);
    std::swap(order[i], order[j]);
  }
  return order;
}

Rng Rng::split(uint64_t stream) const {
  // Hash (stream, state) into one seed; mixing after every word makes each bit of each input
  // affect the whole seed. The constant keeps stream 0 from hashing like a zero word.
  uint64_t h = mix64(stream ^ 0x6a09e667f3bcc909ULL);
  for (uint64_t word : s_) h = mix64(h ^ word);
  return Rng(h);
}

Rng Rng::fork() { return Rng(next_u64()); }

void Rng::set_state(const std::array<uint64_t, 4>& state) {
  NWQ_CHECK(state[0] != 0 || state[1] != 0 || state[2] != 0 || state[3] != 0,
            "Rng::set_state: the all-zero state is invalid for xoshiro256**");
  s_ = state;
}

}  // namespace nwq
