// AdaRound lowers the layer-output error of round-to-nearest for every Linear of a small random model (inputs
// collected through the SiteHook) and on structured synthetic inputs (correlated, outlier channels).
#include "slimpipe/quant/adaround.hpp"

#include <gtest/gtest.h>

#include "quant_test_model.hpp"
#include "quant_test_support.hpp"
#include "slimpipe/quant/site_calibration.hpp"

namespace slimpipe::quant {
namespace {

// mean over rows of sum over outputs of (x W^T - x W~^T)^2, on the given rows.
double output_error(const at::Tensor& w, const at::Tensor& wq, const at::Tensor& x) {
  return at::mm(x, (w - wq).t()).pow(2).sum(1).mean().item<double>();
}

AdaRoundOptions test_options() {
  AdaRoundOptions o;
  o.iterations = 1500;
  o.learning_rate = 1e-2;
  return o;
}

TEST(AdaRound, BeatsNearestOnEveryLinearOfARandomModel) {
  nn::TaskModel model = testing::small_model();
  std::vector<std::string> sites;
  for (const auto& s : nn::linear_sites(*model)) sites.push_back(s.name);
  LinearInputCollector inputs(sites, 2048);
  {
    at::NoGradGuard no_grad;
    for (const auto& b : testing::random_batches(4, 8, 32)) model->forward(b, inputs.hook());  // 1024 token rows
  }
  at::NoGradGuard no_grad;
  for (const auto& site : nn::linear_sites(*model)) {
    SCOPED_TRACE(site.name);
    at::Tensor w = site.module->weight.detach();
    at::Tensor x = inputs.rows(site.name);
    at::Tensor t = weight_thresholds(w, WeightQuantType::ChannelWiseAbsMax);
    AdaRoundResult r = adaround_weight(w, x, t, test_options());
    const double nearest = output_error(w, quantize_weight(w).dequantize(), x);
    const double ada = output_error(w, r.weight.dequantize(), x);
    EXPECT_NEAR(r.nearest_loss, nearest, 1e-3 * nearest);
    EXPECT_NEAR(r.adaround_loss, ada, 1e-3 * ada);
    EXPECT_LT(ada, nearest);
    // Each weight moves at most one level away from nearest (it only picks floor or ceil).
    EXPECT_LE((r.weight.levels.to(at::kInt) - quantize_weight(w).levels.to(at::kInt)).abs().max().item<int>(), 1);
  }
}

TEST(AdaRound, BeatsNearestOnStructuredInputsAndWithQuantizedInputs) {
  at::manual_seed(9);
  const std::int64_t in = 48, out = 32, rows = 3000;
  // Low-rank correlated features, a non-zero mean and three outlier channels (BERT-like activations).
  at::Tensor basis = at::randn({6, in}), channel_scale = at::ones({in});
  channel_scale[3] = 20, channel_scale[17] = 8, channel_scale[40] = 12;
  auto sample = [&](std::int64_t n) {
    return (at::mm(at::randn({n, 6}), basis) + 0.1 * at::randn({n, in}) + 0.5) * channel_scale;
  };
  at::Tensor x = sample(rows);
  at::Tensor w = 0.2 * at::randn({out, in});
  at::Tensor t = weight_thresholds(w, WeightQuantType::ChannelWiseAbsMax);
  AdaRoundResult r = adaround_weight(w, x, t, test_options());
  EXPECT_LT(r.adaround_loss, 0.7 * r.nearest_loss) << "correlated inputs leave much to gain";
  // Held-out rows from the same distribution: the gain generalises.
  at::Tensor x2 = sample(1000);
  EXPECT_LT(output_error(w, r.weight.dequantize(), x2), output_error(w, quantize_weight(w).dequantize(), x2));

  // Per-tensor scale and a loss against quantized inputs: still better than nearest on what the int8 layer sees.
  AdaRoundOptions o = test_options();
  o.input_threshold = x.abs().max().item<double>();
  at::Tensor tt = weight_thresholds(w, WeightQuantType::AbsMax);
  AdaRoundResult q = adaround_weight(w, x, tt, o);
  EXPECT_EQ(q.weight.axis, -1);
  EXPECT_LT(q.adaround_loss, q.nearest_loss);
}

TEST(AdaRound, RejectsMismatchedShapes) {
  EXPECT_THROW(adaround_weight(at::randn({4, 8}), at::randn({10, 7}), at::ones({4})), Error);
  EXPECT_THROW(adaround_weight(at::randn({4, 8}), at::randn({10, 8}), at::ones({3})), Error);
}

}  // namespace
}  // namespace slimpipe::quant
