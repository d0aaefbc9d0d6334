// Paired bootstrap over per-example statistics: intervals of metric differences between models scored on the
// same examples, corpus F1 recomputed per resample, reproducible from the seed.
#include "slimpipe/metrics/bootstrap.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "slimpipe/error.hpp"

namespace m = slimpipe::metrics;

namespace {

m::ExampleStats accuracy_stats(const std::vector<int>& correct) {
  m::ExampleStats s;
  s.width = 1;
  s.metric = m::mean_percent();
  for (int c : correct) s.values.push_back(c);
  return s;
}

}  // namespace

TEST(Bootstrap, IdenticalModelsHaveAZeroWidthInterval) {
  const auto a = accuracy_stats({1, 0, 1, 1, 0, 1, 0, 1, 1, 1});
  const auto b = a;
  const auto boot = m::paired_bootstrap({&a, &b}, 500, 7);
  const auto ci = m::difference_interval(boot, 0, 1, 0.95);
  EXPECT_DOUBLE_EQ(ci.low, 0.0);
  EXPECT_DOUBLE_EQ(ci.high, 0.0);
  EXPECT_DOUBLE_EQ(boot.full[0], 70.0);
}

TEST(Bootstrap, PairingNarrowsTheIntervalToTheExamplesThatDiffer) {
  // 1000 examples, the models differ on 20: b is right on 15 of them, a on 5 (b − a = +1.0 point). Unpaired, the
  // accuracies' own spread (about ±3 points) would swamp that; paired, only the 20 disagreements vary.
  std::vector<int> xa, xb;
  for (int i = 0; i < 1000; ++i) {
    const int base = i % 2;
    int va = base, vb = base;
    if (i < 15) {
      va = 0;
      vb = 1;
    } else if (i < 20) {
      va = 1;
      vb = 0;
    }
    xa.push_back(va);
    xb.push_back(vb);
  }
  const auto a = accuracy_stats(xa), b = accuracy_stats(xb);
  const auto boot = m::paired_bootstrap({&a, &b}, 2000, 1);
  EXPECT_NEAR(boot.full[1] - boot.full[0], 1.0, 1e-12);
  const auto ci = m::difference_interval(boot, 1, 0, 0.95);
  EXPECT_LT(ci.low, 1.0);
  EXPECT_GT(ci.high, 1.0);
  // sd of the paired difference: sqrt(20/1000 - 0.01^2)/sqrt(1000) * 100 ≈ 0.44 points: interval ≈ ±0.87.
  EXPECT_GT(ci.high - ci.low, 1.2);
  EXPECT_LT(ci.high - ci.low, 2.3);
  EXPECT_GT(ci.low, 0.0);  // 15 against 5 on 1000 examples is (just) beyond noise at 95%
}

TEST(Bootstrap, SameSeedSameIntervalsAndCorpusF1IsRecomputedFromSums) {
  // Chunk F1 from {predicted, gold, correct}: the full value is the corpus F1, not a mean of sentence F1s.
  m::ExampleStats f;
  f.width = 3;
  f.metric = m::f1_percent_from_counts();
  f.values = {2, 2, 2, 0, 3, 0, 1, 1, 1, 4, 2, 1};
  EXPECT_NEAR(f.value(), 100.0 * 2 * 4 / (7 + 8), 1e-12);
  m::ExampleStats g = f;
  g.values[2] = 1;
  const auto one = m::paired_bootstrap({&f, &g}, 300, 42), two = m::paired_bootstrap({&f, &g}, 300, 42);
  EXPECT_EQ(one.resamples, two.resamples);
  const auto other = m::paired_bootstrap({&f, &g}, 300, 43);
  EXPECT_NE(one.resamples, other.resamples);
  const auto ci = m::difference_interval(one, 1, 0, 0.95);
  EXPECT_LE(ci.high, 0.0);  // g never beats f on any resample
}

TEST(Bootstrap, MismatchedModelsAreErrors) {
  const auto a = accuracy_stats({1, 0, 1});
  const auto b = accuracy_stats({1, 0});
  EXPECT_THROW(m::paired_bootstrap({&a, &b}, 10, 1), slimpipe::Error);
  EXPECT_THROW(m::paired_bootstrap({&a}, 0, 1), slimpipe::Error);
  EXPECT_DOUBLE_EQ(m::quantile({1, 2, 3, 4}, 0.5), 2.5);
  EXPECT_THROW(m::quantile({}, 0.5), slimpipe::Error);
}
