// Empirical bias correction removes the mean output error of a quantized Linear when its inputs have a
// non-zero mean (where weight rounding errors add up instead of averaging out).
#include "slimpipe/quant/bias_correction.hpp"

#include <gtest/gtest.h>

#include "quant_test_model.hpp"
#include "quant_test_support.hpp"
#include "slimpipe/quant/fake_quant.hpp"
#include "slimpipe/quant/site_calibration.hpp"
#include "slimpipe/quant/weight_quant.hpp"

namespace slimpipe::quant {
namespace {

// |mean over rows of (y_float - y_quant)|, averaged over output channels.
double mean_output_error(const at::Tensor& y, const at::Tensor& yq) {
  return (y - yq).mean(0).abs().mean().item<double>();
}

TEST(BiasCorrection, RemovesMeanOutputErrorForNonZeroMeanInputs) {
  at::manual_seed(4);
  const std::int64_t in = 256, out = 64;
  at::Tensor mean = 1.0 + at::rand({in});
  auto sample = [&](std::int64_t rows) { return mean + 0.5 * at::randn({rows, in}); };
  at::Tensor w = 0.1 * at::randn({out, in}), b = 0.1 * at::randn({out});
  FakeQuantOptions four_bit;
  four_bit.bits = 4;  // coarse enough that the shift is large against noise
  QuantizedWeight q = quantize_weight(w, WeightQuantType::ChannelWiseAbsMax, 0, four_bit);
  at::Tensor wq = q.dequantize();

  at::Tensor calib = sample(2000), test = sample(2000);
  at::Tensor b2 = corrected_bias(w, wq, b, calib.mean(0));
  at::Tensor y = at::linear(test, w, b);
  const double before = mean_output_error(y, at::linear(test, wq, b));
  const double after = mean_output_error(y, at::linear(test, wq, b2));
  EXPECT_LT(after, 0.1 * before) << before << " -> " << after;

  // With quantized inputs too: the correction also absorbs the inputs' mean rounding error.
  const double tx = calib.abs().max().item<double>();
  FakeQuantOptions a4;
  a4.bits = 4;
  at::Tensor b3 = corrected_bias(w, wq, b, calib.mean(0), fake_quantize(calib, tx, a4).mean(0));
  at::Tensor test_q = fake_quantize(test, tx, a4);
  const double before_q = mean_output_error(y, at::linear(test_q, wq, b));
  const double after_q = mean_output_error(y, at::linear(test_q, wq, b3));
  EXPECT_LT(after_q, 0.2 * before_q) << before_q << " -> " << after_q;
}

TEST(BiasCorrection, UsesTheCollectorsExactMeanOverAllRows) {
  LinearInputCollector c({"fc"}, 16);
  auto hook = c.hook();
  at::manual_seed(8);
  at::Tensor a = at::randn({5, 10, 6}) + 2, b = at::randn({3, 10, 6}) - 1;
  hook("fc", nn::kLeftOperand, a);
  hook("fc", nn::kRightOperand, at::randn({4, 6}));  // weights are not inputs
  hook("other", nn::kLeftOperand, a);
  hook("fc", nn::kLeftOperand, b);
  EXPECT_EQ(c.rows_seen("fc"), 80);
  EXPECT_EQ(c.rows("fc").size(0), 16) << "reservoir keeps max_rows";
  at::Tensor all = at::cat({a.reshape({-1, 6}), b.reshape({-1, 6})});
  EXPECT_TRUE(at::allclose(c.mean("fc"), all.mean(0), 1e-5, 1e-6));
  // Every kept row is one of the rows seen.
  at::Tensor kept = c.rows("fc");
  for (std::int64_t i = 0; i < kept.size(0); ++i) EXPECT_TRUE((all - kept[i]).abs().sum(1).min().item<float>() == 0);
  EXPECT_THROW(c.rows("other"), Error);
}

}  // namespace
}  // namespace slimpipe::quant
