// Accuracy accumulation: the seq_cls ranking metric.
// Batches of any split must give the same value as one pass.
#include "slimpipe/metrics/accuracy.hpp"

#include <gtest/gtest.h>

#include "slimpipe/error.hpp"

using slimpipe::metrics::Accuracy;

TEST(Accuracy, CountsMatchesOverBatches) {
  Accuracy a;
  a.add({0, 1, 2}, {0, 1, 1});
  a.add(std::vector<std::int64_t>{2}, std::vector<std::int64_t>{0});
  EXPECT_EQ(a.correct(), 2u);
  EXPECT_EQ(a.total(), 4u);
  EXPECT_DOUBLE_EQ(a.value(), 0.5);
  EXPECT_DOUBLE_EQ(slimpipe::metrics::accuracy({1, 1, 1}, {1, 0, 1}), 2.0 / 3.0);
}

TEST(Accuracy, EmptyIsZeroAndSizeMismatchThrows) {
  EXPECT_EQ(Accuracy().value(), 0.0);
  Accuracy a;
  EXPECT_THROW(a.add({1, 2}, {1}), slimpipe::Error);
}
