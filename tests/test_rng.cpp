// Tests for core/rng: published reference values of splitmix64 and xoshiro256**, golden values
// for seed 42 (from an independent Python transcription of the algorithms), statistics of each
// distribution, and exact reproduction through copies, state save/restore and split().
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "core/error.h"
#include "core/rng.h"

using nwq::Rng;

TEST_CASE("rng: splitmix64 matches the published reference") {
  uint64_t state = 0;
  CHECK(nwq::splitmix64_next(state) == 0xe220a8397b1dcdafULL);
  CHECK(state == 0x9e3779b97f4a7c15ULL);
}

TEST_CASE("rng: xoshiro256** matches the reference vector for state {1, 2, 3, 4}") {
  Rng rng(0);
  rng.set_state({1, 2, 3, 4});
  CHECK(rng.next_u64() == 11520ULL);
  CHECK(rng.next_u64() == 0ULL);
  CHECK(rng.next_u64() == 1509978240ULL);
  CHECK(rng.next_u64() == 1215971899390074240ULL);
}

TEST_CASE("rng: golden values for seed 42") {
  Rng rng(42);
  const std::array<uint64_t, 4> seeded = {0xbdd732262feb6e95ULL, 0x28efe333b266f103ULL,
                                          0x47526757130f9f52ULL, 0x581ce1ff0e4ae394ULL};
  CHECK(rng.state() == seeded);
  const uint64_t want[5] = {0x15780b2e0c2ec716ULL, 0x6104d9866d113a7eULL, 0xae17533239e499a1ULL,
                            0xecb8ad4703b360a1ULL, 0xfde6dc7fe2ec5e64ULL};
  for (uint64_t value : want) CHECK(rng.next_u64() == value);

  Rng again(42);
  CHECK(again.uniform() == 0.08386296033859253f);  // (0x15780b2e0c2ec716 >> 40) * 2^-24
  CHECK(again.next_u32() == 0x6104d986u);          // upper half of the second output
  Rng normal_rng(42);
  CHECK(normal_rng.normal_f64() == doctest::Approx(-0.303263064678738).epsilon(1e-14));
  Rng float_rng(42);
  CHECK(float_rng.normal() == static_cast<float>(-0.303263064678738));
}

TEST_CASE("rng: same seed same stream, different seeds differ, copies continue the stream") {
  Rng a(7), b(7), c(8);
  int differ = 0;
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.next_u64();
    CHECK(x == b.next_u64());
    differ += x != c.next_u64();
  }
  CHECK(differ == 100);
  Rng copy = a;
  for (int i = 0; i < 10; ++i) CHECK(copy.uniform() == a.uniform());
}

TEST_CASE("rng: uniform range, grid and moments") {
  Rng rng(1);
  const int n = 100000;
  double sum = 0, sum_sq = 0;
  for (int i = 0; i < n; ++i) {
    const float u = rng.uniform();
    REQUIRE(u >= 0.0f);
    REQUIRE(u < 1.0f);
    REQUIRE(u * 16777216.0f == std::floor(u * 16777216.0f));  // a multiple of 2^-24
    sum += u;
    sum_sq += double{u} * u;
  }
  const double mean = sum / n;
  CHECK(mean == doctest::Approx(0.5).epsilon(0.01));                  // sd of mean ~0.0009
  CHECK(sum_sq / n - mean * mean == doctest::Approx(1.0 / 12).epsilon(0.02));
  double sum64 = 0;
  for (int i = 0; i < n; ++i) {
    const double u = rng.uniform_f64();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    sum64 += u;
  }
  CHECK(sum64 / n == doctest::Approx(0.5).epsilon(0.01));
}

TEST_CASE("rng: uniform(lo, hi) range and mean; bad bounds throw") {
  Rng rng(2);
  double sum = 0;
  for (int i = 0; i < 100000; ++i) {
    const float u = rng.uniform(-3.0f, 5.0f);
    REQUIRE(u >= -3.0f);
    REQUIRE(u < 5.0f);
    sum += u;
  }
  CHECK(sum / 100000 == doctest::Approx(1.0).epsilon(0.02));
  // A tiny interval where rounding would reach hi still stays below it.
  for (int i = 0; i < 1000; ++i) REQUIRE(rng.uniform(1.0f, std::nextafter(1.0f, 2.0f)) == 1.0f);
  CHECK_THROWS_AS(rng.uniform(1.0f, 1.0f), nwq::Error);
  CHECK_THROWS_AS(rng.uniform(2.0f, 1.0f), nwq::Error);
  CHECK_THROWS_AS(rng.uniform(0.0f, INFINITY), nwq::Error);
}

TEST_CASE("rng: normal has mean 0, std 1 and the right one-sigma mass") {
  Rng rng(3);
  const int n = 100000;
  double sum = 0, sum_sq = 0;
  int within_one = 0;
  for (int i = 0; i < n; ++i) {
    const double z = rng.normal();
    REQUIRE(std::isfinite(z));
    sum += z;
    sum_sq += z * z;
    within_one += std::fabs(z) < 1.0;
  }
  const double mean = sum / n;
  CHECK(std::fabs(mean) < 0.02);  // sd of the mean is 0.0032
  CHECK(std::sqrt(sum_sq / n - mean * mean) == doctest::Approx(1.0).epsilon(0.02));
  CHECK(static_cast<double>(within_one) / n == doctest::Approx(0.6827).epsilon(0.015));
  double sum64 = 0;
  for (int i = 0; i < n; ++i) sum64 += rng.normal_f64();
  CHECK(std::fabs(sum64 / n) < 0.02);
}

TEST_CASE("rng: bernoulli frequency and edge probabilities") {
  Rng rng(4);
  int hits = 0;
  for (int i = 0; i < 100000; ++i) hits += rng.bernoulli(0.3);
  CHECK(hits / 100000.0 == doctest::Approx(0.3).epsilon(0.03));  // sd 0.0014
  for (int i = 0; i < 1000; ++i) {
    REQUIRE(!rng.bernoulli(0.0));
    REQUIRE(rng.bernoulli(1.0));
  }
  CHECK_THROWS_AS(rng.bernoulli(-0.1), nwq::Error);
  CHECK_THROWS_AS(rng.bernoulli(1.5), nwq::Error);
  CHECK_THROWS_AS(rng.bernoulli(NAN), nwq::Error);
}

TEST_CASE("rng: randint stays in bounds and is uniform") {
  Rng rng(5);
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 70000; ++i) {
    const int64_t k = rng.randint(7);
    REQUIRE(k >= 0);
    REQUIRE(k < 7);
    ++counts[k];
  }
  for (int count : counts) CHECK(count == doctest::Approx(10000).epsilon(0.05));  // sd ~93
  for (int i = 0; i < 100; ++i) REQUIRE(rng.randint(1) == 0);
  const int64_t big = INT64_MAX;
  for (int i = 0; i < 1000; ++i) {
    const int64_t k = rng.randint(big);
    REQUIRE(k >= 0);
    REQUIRE(k < big);
  }
  CHECK_THROWS_AS(rng.randint(0), nwq::Error);
  CHECK_THROWS_AS(rng.randint(-3), nwq::Error);
}

TEST_CASE("rng: permutation is a permutation and is seeded") {
  Rng rng(6);
  std::vector<int64_t> perm = rng.permutation(1000);
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> identity(1000);
  std::iota(identity.begin(), identity.end(), 0);
  CHECK(sorted == identity);
  CHECK(perm != identity);
  Rng same(6);
  CHECK(same.permutation(1000) == perm);
  CHECK(rng.permutation(0).empty());
  CHECK(rng.permutation(1) == std::vector<int64_t>{0});
  CHECK_THROWS_AS(rng.permutation(-1), nwq::Error);
  // Every element lands in position 0 about equally often.
  std::vector<int> first(5, 0);
  for (int i = 0; i < 50000; ++i) ++first[rng.permutation(5)[0]];
  for (int count : first) CHECK(count == doctest::Approx(10000).epsilon(0.05));
}

TEST_CASE("rng: state save and restore reproduces the stream") {
  Rng rng(9);
  for (int i = 0; i < 17; ++i) rng.normal();
  const std::array<uint64_t, 4> saved = rng.state();
  std::vector<double> first;
  for (int i = 0; i < 10; ++i) {
    first.push_back(rng.normal());
    first.push_back(rng.uniform());
    first.push_back(static_cast<double>(rng.randint(1000)));
  }
  Rng other(12345);
  other.set_state(saved);
  for (size_t i = 0; i < first.size(); i += 3) {
    CHECK(other.normal() == first[i]);
    CHECK(other.uniform() == first[i + 1]);
    CHECK(static_cast<double>(other.randint(1000)) == first[i + 2]);
  }
  CHECK_THROWS_AS(other.set_state({0, 0, 0, 0}), nwq::Error);
}

TEST_CASE("rng: split is deterministic, leaves the parent alone and separates streams") {
  Rng parent(10);
  const std::array<uint64_t, 4> before = parent.state();
  Rng child0 = parent.split(0);
  Rng child0_again = parent.split(0);
  Rng child1 = parent.split(1);
  CHECK(parent.state() == before);
  CHECK(child0.state() == child0_again.state());
  CHECK(child0.state() != child1.state());
  CHECK(child0.state() != parent.state());
  int differ = 0;
  for (int i = 0; i < 100; ++i) differ += child0.next_u64() != child1.next_u64();
  CHECK(differ == 100);
  // Children of different parents differ too.
  CHECK(Rng(11).split(0).state() != Rng(10).split(0).state());
}

TEST_CASE("rng: fork advances the parent and is reproducible") {
  Rng a(20), b(20);
  Rng child_a = a.fork();
  Rng child_b = b.fork();
  CHECK(child_a.state() == child_b.state());
  CHECK(a.state() == b.state());
  CHECK(a.state() != Rng(20).state());
  CHECK(a.fork().state() != child_a.state());
}
