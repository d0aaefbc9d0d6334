// Streaming: observer state is O(bins) whatever the number of batches, and a growing histogram holds exactly
// the counts a one-shot histogram over its final range would.
#include <gtest/gtest.h>

#include "quant_test_support.hpp"
#include "slimpipe/quant/calibration_histogram.hpp"

namespace slimpipe::quant {
namespace {

TEST(Streaming, ObserverStateIsIndependentOfTheNumberOfBatches) {
  for (const auto& algo : observer_algos()) {
    for (bool compat : {false, true}) {
      if (compat && algo == "percentile") continue;
      SCOPED_TRACE(algo + (compat ? " paddle_compat" : ""));
      ObserverOptions o;
      o.paddle_compat = compat;
      at::manual_seed(3);
      auto one = make_observer(algo, o), fifty = make_observer(algo, o);
      for (int pass = 0; pass < one->passes(); ++pass) {
        if (pass > 0) one->finish_pass(), fifty->finish_pass();
        at::manual_seed(3);
        one->observe(at::randn({2, 16, 32}));
        // Growing ranges: later batches are wider, so the histogram re-bins many times.
        for (int b = 0; b < 50; ++b) fifty->observe(at::randn({2, 16, 32}) * (1 + b));
      }
      EXPECT_EQ(one->state_size(), fifty->state_size());
      EXPECT_GT(fifty->threshold(), 0);
    }
  }
  // KL keeps |x| and the two sides (for one-sided distributions): three histograms of 2048 bins.
  EXPECT_EQ(make_observer("KL")->state_size(), 3 * 2048);
  EXPECT_EQ(make_observer("hist")->state_size(), 2048);
  EXPECT_EQ(make_observer("mse")->state_size(), 16384);
}

TEST(Streaming, GrowingHistogramEqualsOneShotHistogramOverItsFinalRange) {
  at::manual_seed(5);
  std::vector<at::Tensor> batches;
  for (int b = 0; b < 12; ++b) batches.push_back(at::randn({64, 33}) * std::pow(1.7, b));
  for (auto domain : {CalibrationHistogram::Domain::Abs, CalibrationHistogram::Domain::Signed}) {
    CalibrationHistogram h = CalibrationHistogram::growing(256, domain);
    for (const auto& b : batches) h.add(b);
    at::Tensor all = at::cat(batches).flatten().to(at::kDouble);
    if (domain == CalibrationHistogram::Domain::Abs) all = all.abs();
    EXPECT_GE(h.hi(), all.abs().max().item<double>());
    at::Tensor idx = ((all - h.lo()) * (256 / (h.hi() - h.lo()))).floor().clamp(0, 255).to(at::kLong);
    at::Tensor expected = at::bincount(idx, {}, 256);
    EXPECT_TRUE(at::equal(at::tensor(h.counts()), expected));
    EXPECT_EQ(h.total(), all.numel());
  }
}

TEST(Streaming, FixedHistogramDropsValuesOutsideItsRangeAsNumpyDoes) {
  CalibrationHistogram h = CalibrationHistogram::fixed_abs(4, 1.0, 3.0);
  h.add(at::tensor({0.5f, 1.0f, 1.49f, 1.5f, -2.0f, 3.0f, 3.5f}));
  EXPECT_EQ(h.counts(), (std::vector<std::int64_t>{2, 1, 1, 1}));  // 3.0 lands in the closed last bin
  EXPECT_EQ(h.total(), 5);
}

}  // namespace
}  // namespace slimpipe::quant
