// Seeded random numbers that give the same stream on every machine and compiler:
// xoshiro256** (Blackman & Vigna) seeded through splitmix64, with our own uniform/normal/int maps.
// Used for weight init, data shuffling and augmentation, so runs are reproducible bit for bit.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

namespace nwq {

// One step of splitmix64: advances `state` by the golden-ratio increment and returns the mixed
// value. splitmix64 with state 0 first returns 0xe220a8397b1dcdaf (the published reference).
uint64_t splitmix64_next(uint64_t& state);

// A small, fast generator with 256 bits of state. Copying an Rng copies its stream.
// Integer and uniform outputs are exact integer/power-of-two arithmetic, so they are bit-identical
// everywhere. normal() uses log/cos from the C library in double precision; results agree across
// platforms except, at worst, in the last bit on a libm that rounds log/cos differently.
class Rng {
 public:
  explicit Rng(uint64_t seed);

  uint64_t next_u64();
  uint32_t next_u32();  // upper 32 bits of next_u64 (the strongest bits)

  float uniform();                   // [0, 1), 24 random bits: multiples of 2^-24
  double uniform_f64();              // [0, 1), 53 random bits: multiples of 2^-53
  float uniform(float lo, float hi);  // [lo, hi); requires lo < hi
  float normal();                    // standard normal, float rounding of normal_f64()
  double normal_f64();               // standard normal by Box-Muller (two uniforms per sample)
  bool bernoulli(double p);          // true with probability p, p in [0, 1]
  int64_t randint(int64_t n);        // uniform in [0, n), no modulo bias; n > 0
  std::vector<int64_t> permutation(int64_t n);  // uniform random order of 0..n-1 (Fisher-Yates)

  // A child generator for sub-stream `stream` (a worker id, an epoch ...). Depends only on this
  // generator's current state and `stream`; does not advance this generator, so split(k) called
  // twice at the same point gives the same child, and different k give unrelated streams.
  Rng split(uint64_t stream) const;
  // A child seeded from this generator's next output; advances this generator by one step.
  Rng fork();

  // The full state; set_state(state()) resumes the stream exactly. An all-zero state is invalid.
  std::array<uint64_t, 4> state() const { return s_; }
  void set_state(const std::array<uint64_t, 4>& state);

 private:
  std::array<uint64_t, 4> s_;
};

}  // namespace nwq
