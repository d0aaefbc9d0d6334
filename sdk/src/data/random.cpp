// SplitMix64 and the derived draws used by the synthetic data sources.
// Integer-only arithmetic except unit(), whose 53-bit scaling is exact in IEEE doubles.
#include "slimpipe/data/random.hpp"

namespace slimpipe::data {

std::uint64_t SplitMix64::next() {
  std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::uint64_t SplitMix64::below(std::uint64_t n) {
  // Reject the top partial block so every residue is equally likely.
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  std::uint64_t x;
  do x = next();
  while (x >= limit);
  return x % n;
}

double SplitMix64::unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

}  // namespace slimpipe::data
