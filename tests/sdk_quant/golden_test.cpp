// The spec's golden values (ptq.md §3, §4) for Paddle-compatible calibration and weight quantization, at batch
// size 16 (one batch), 1 (sixteen batches) and 4 (four batches).
#include <gtest/gtest.h>

#include "quant_test_support.hpp"
#include "slimpipe/quant/calibration_histogram.hpp"
#include "slimpipe/quant/histogram_thresholds.hpp"
#include "slimpipe/quant/weight_quant.hpp"

namespace slimpipe::quant {
namespace {

using testing::calibrate;
using testing::paddle;
using testing::spec_d1;
using testing::split_rows;

TEST(Golden, SpecD1SingleBatchMatchesPaddleThresholds) {
  const std::vector<at::Tensor> one{spec_d1()};
  EXPECT_DOUBLE_EQ(calibrate("abs_max", paddle(), one), 20.0);
  EXPECT_NEAR(calibrate("avg", paddle(), one), 3.6789229, 1e-6);
  EXPECT_NEAR(calibrate("mse", paddle(), one), 15.2, 1e-9);
  EXPECT_NEAR(calibrate("mse", paddle(false), one), 17.2, 1e-9);
  EXPECT_NEAR(calibrate("emd", paddle(), one), 17.6, 1e-9);
  EXPECT_NEAR(calibrate("hist", paddle(), one), 1.9384766, 1e-6);
  ObserverOptions five_nines = paddle();
  five_nines.hist_percent = 0.99999;
  EXPECT_NEAR(calibrate("hist", five_nines, one), 19.995117, 1e-5);
  EXPECT_NEAR(calibrate("KL", paddle(), one), 12.006836, 1e-5);  // i* = 1229
}

TEST(Golden, SpecD1HistogramLayoutIsPaddles) {
  at::Tensor d1 = spec_d1();
  CalibrationHistogram h = CalibrationHistogram::fixed_abs(2048, d1.abs().min().item<float>(), 20.0);
  h.add(d1);
  EXPECT_EQ(h.lo(), 0.0);
  EXPECT_DOUBLE_EQ(h.bin_width(), 0.009765625);
  EXPECT_EQ(h.total(), 65536);
  EXPECT_EQ(kl_clip_bin(h.counts()), 1229);
}

TEST(Golden, SpecD1SplitIntoBatchesOfOneAndFourKeepsOrderIndependentThresholds) {
  for (std::int64_t rows : {1, 4}) {
    SCOPED_TRACE("batch size " + std::to_string(rows));
    const auto batches = split_rows(spec_d1(), rows);
    EXPECT_DOUBLE_EQ(calibrate("abs_max", paddle(), batches), 20.0);
    EXPECT_NEAR(calibrate("avg", paddle(), batches), 3.6789229, 1e-6);  // equal batches: mean of means = mean
    EXPECT_NEAR(calibrate("hist", paddle(), batches), 1.9384766, 1e-6);
    EXPECT_NEAR(calibrate("KL", paddle(), batches), 12.006836, 1e-5);
  }
}

TEST(Golden, PureKlHistogramClipsAtBin1382) {
  std::vector<std::int64_t> hist(2048);
  for (std::size_t k = 0; k < hist.size(); ++k)
    hist[k] = static_cast<std::int64_t>(std::floor(1000 * std::exp(-static_cast<double>(k) / 200)));
  hist[2000] += 3;
  const std::int64_t i = kl_clip_bin(hist);
  EXPECT_EQ(i, 1382);
  EXPECT_NEAR((static_cast<double>(i) + 0.5) * 0.01, 13.825, 1e-12);
}

TEST(Golden, PaddleMseGridNeverTriesFullRangeOursDoes) {
  // Values on the int8 grid of T = 1: quantizing at T = max|x| is exact, so the best candidate is s = 1.0.
  at::Tensor x = (at::arange(-127, 128, at::kFloat) / 127).repeat({8}).view({8, 255});
  const double paddle_t = calibrate("mse", paddle(), {x});
  EXPECT_NEAR(paddle_t, 0.98, 1e-9) << "35 candidates 0.30 .. 0.98";
  EXPECT_NEAR(calibrate("mse", {}, {x}), 1.0, 1e-9);
}

TEST(Golden, PaddleKlNeverClipsBelowHalfTheRangeOursDoes) {
  // The spec's pure-KL histogram with a 4x faster decay: the KL optimum lies far below bin 1023, where
  // Paddle cannot look (it settles on keeping the outliers, bin 2001); numpy reference: 345.
  std::vector<std::int64_t> hist(2048);
  for (std::size_t k = 0; k < hist.size(); ++k)
    hist[k] = static_cast<std::int64_t>(std::floor(1000 * std::exp(-static_cast<double>(k) / 50)));
  hist[2000] += 3;
  EXPECT_EQ(kl_clip_bin(hist, KlSearch::paddle()), 2001);
  EXPECT_EQ(kl_clip_bin(hist, KlSearch::full()), 345);
}

TEST(Golden, ChannelWiseWeightLevelsMatchSpec) {
  // Paddle layout [in, out], channel axis 1 (nn.Linear's axis 0).
  at::Tensor w =
      at::tensor({.5f, -.2f, .031f, -.25f, .9f, -.047f, .125f, -.33f, .062f, .01f, .45f, -.015f}).view({4, 3});
  at::Tensor t = weight_thresholds(w, WeightQuantType::ChannelWiseAbsMax, 1);
  EXPECT_TRUE(at::allclose(t, at::tensor({.5f, .9f, .062f})));
  QuantizedWeight q = quantize_weight_with(w, t, 1);
  at::Tensor expected = at::tensor({127, -28, 64, -64, 127, -96, 32, -47, 127, 3, 64, -31}, at::kChar).view({4, 3});
  EXPECT_TRUE(at::equal(q.levels, expected)) << q.levels;  // 63.5 -> 64 and -63.5 -> -64: half to even
}

}  // namespace
}  // namespace slimpipe::quant
