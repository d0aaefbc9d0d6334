// Default-mode KL on one-sided distributions: when one side of x lies inside the smallest candidate clip, KL
// searches the other side's histogram instead of |x| (histogram_observers.cpp). GELU outputs are the case that
// matters: most of their values are small negatives, which |x| folds onto the start of the positive range.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "quant_test_support.hpp"
#include "slimpipe/quant/calibration_histogram.hpp"
#include "slimpipe/quant/fake_quant.hpp"
#include "slimpipe/quant/histogram_thresholds.hpp"
#include "slimpipe/quant/observer.hpp"
#include "slimpipe/quant/quant_error.hpp"

namespace slimpipe::quant {
namespace {

using testing::calibrate;

// GELU of Gaussian pre-activations centred at -2: about 90% of the values lie in [-0.17, 0], the positive tail
// reaches about 4.5 (an FFN's GELU output, the FFN2 input).
std::vector<at::Tensor> gelu_batches() {
  at::manual_seed(3);
  std::vector<at::Tensor> out;
  for (int b = 0; b < 4; ++b) out.push_back(at::gelu(at::randn({4, 64, 256}) * 1.5 - 2.0));
  return out;
}

// What KL searched before: the |x| histogram.
double abs_histogram_kl(const std::vector<at::Tensor>& batches) {
  CalibrationHistogram h = CalibrationHistogram::growing(2048);
  for (const auto& x : batches) h.add(x);
  return static_cast<double>(kl_clip_bin(h.counts(), KlSearch::full())) * h.bin_width();
}

double sqnr(const std::vector<at::Tensor>& batches, double t) {
  QuantErrorMeter m;
  for (const auto& x : batches) m.add(x, fake_quantize(x, t));
  return m.result().sqnr_db;
}

TEST(KlOneSided, GeluOutputsAreSearchedOnTheirPositiveSide) {
  const auto batches = gelu_batches();
  double max_abs = 0, neg = 0, count = 0;
  for (const auto& x : batches) {
    max_abs = std::max(max_abs, x.abs().max().item<double>());
    neg += x.lt(0).sum().item<double>();
    count += static_cast<double>(x.numel());
  }
  ASSERT_GT(neg / count, 0.8);
  const double folded = abs_histogram_kl(batches), ours = calibrate("KL", {}, batches);
  std::printf(
      "[ GELU ] max %.3f: KL on |x| T = %.3f (%.1f dB), on the positive side T = %.3f (%.1f dB), abs_max %.1f dB\n",
      max_abs, folded, sqnr(batches, folded), ours, sqnr(batches, ours), sqnr(batches, max_abs));
  // |x| matched the shape of the negative bulk and clipped the tail: T a small fraction of the range.
  EXPECT_LT(folded, 0.3 * max_abs);
  EXPECT_LT(sqnr(batches, folded), 15.0);
  // The positive side keeps the tail, and the result is as good as abs_max or better.
  EXPECT_GT(ours, 0.6 * max_abs);
  EXPECT_GT(sqnr(batches, ours), 25.0);
  EXPECT_GE(sqnr(batches, ours), sqnr(batches, max_abs) - 1.5);
  // Mirrored data: the negative side is searched. (Not the same T to the bit: GELU's underflowed outputs are
  // -0.0, counted with x >= 0, and their mirror +0.0 is not a negative value.)
  std::vector<at::Tensor> mirrored;
  for (const auto& x : batches) mirrored.push_back(-x);
  const double m = calibrate("KL", {}, mirrored);
  EXPECT_GT(m, 0.6 * max_abs);
  EXPECT_GT(sqnr(mirrored, m), 25.0);
}

TEST(KlOneSided, TwoSidedAndNonNegativeDataKeepTheAbsHistogram) {
  // Both sides reach past the smallest candidate: |x| as before.
  at::manual_seed(8);
  std::vector<at::Tensor> gaussian;
  for (int b = 0; b < 3; ++b) gaussian.push_back(at::randn({8, 512}));
  EXPECT_DOUBLE_EQ(calibrate("KL", {}, gaussian), abs_histogram_kl(gaussian));
  // Nothing negative: the positive side's histogram is the |x| histogram.
  std::vector<at::Tensor> probs;
  for (int b = 0; b < 3; ++b) probs.push_back(at::softmax(at::randn({4, 2, 16, 16}) * 3, -1));
  EXPECT_DOUBLE_EQ(calibrate("KL", {}, probs), abs_histogram_kl(probs));
  // A negative side just past bin 128 of the positive histogram is two-sided.
  std::vector<at::Tensor> edge{at::cat({at::rand({4000}) * 4.0, -at::rand({4000}) * 0.3})};
  EXPECT_DOUBLE_EQ(calibrate("KL", {}, edge), abs_histogram_kl(edge));
}

TEST(KlOneSided, PaddleCompatStillSearchesTheAbsHistogram) {
  // paddle_compat reproduces cal_kl_threshold on Paddle's |x| histogram (golden and reference tests); only the
  // default mode looks at sides.
  const auto batches = gelu_batches();
  const double paddle = calibrate("KL", testing::paddle(), batches);
  EXPECT_GT(paddle, 0);
  EXPECT_NE(paddle, calibrate("KL", {}, batches));
}

}  // namespace
}  // namespace slimpipe::quant
