// A small, fully specified PRNG for synthetic data: same seed, same numbers, on every platform.
// std::uniform_int_distribution and friends differ across standard libraries, so they are not used.
#pragma once

#include <cstdint>
#include <vector>

#include "slimpipe/export.hpp"

namespace slimpipe::data {

// SplitMix64 (Steele, Lea, Flood 2014): one 64-bit add and a mix per draw; good enough
// statistically for data generation and trivially portable.
class SLIMPIPE_API SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next();
  // Uniform in [0, n) by rejection (no modulo bias); n must be > 0.
  std::uint64_t below(std::uint64_t n);
  // Uniform in [0, 1) with 53 random bits.
  double unit();
  bool chance(double p) { return unit() < p; }
  template <typename T>
  const T& pick(const std::vector<T>& items) {
    return items[static_cast<std::size_t>(below(items.size()))];
  }

 private:
  std::uint64_t state_;
};

}  // namespace slimpipe::data
