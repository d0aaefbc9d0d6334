// Weight quantization (per-channel scales, round-trip bounds), activation fake quantization, the fake-quant
// SiteHook on a model, and the SQNR/MSE statistics.
#include "slimpipe/quant/weight_quant.hpp"

#include <gtest/gtest.h>

#include "quant_test_model.hpp"
#include "quant_test_support.hpp"
#include "slimpipe/quant/fake_quant_hook.hpp"
#include "slimpipe/quant/quant_error.hpp"

namespace slimpipe::quant {
namespace {

TEST(WeightQuant, ChannelWiseScalesAreRowAbsMaxAndRoundTripWithinHalfAStep) {
  at::manual_seed(1);
  at::Tensor w = at::randn({24, 40}) * at::linspace(0.01, 3, 24).unsqueeze(1);  // rows of very different ranges
  QuantizedWeight q = quantize_weight(w);
  EXPECT_EQ(q.axis, 0);
  EXPECT_EQ(q.levels.scalar_type(), at::kChar);
  EXPECT_TRUE(at::allclose(q.thresholds, std::get<0>(w.abs().max(1))));
  at::Tensor err = (q.dequantize() - w).abs();
  at::Tensor half_step = (q.thresholds / 127 / 2).unsqueeze(1);
  EXPECT_TRUE((err <= half_step * (1 + 1e-5)).all().item<bool>());
  EXPECT_EQ(q.levels.abs().amax(1).min().item<int>(), 127) << "every channel uses its full range";

  QuantizedWeight t = quantize_weight(w, WeightQuantType::AbsMax);
  EXPECT_EQ(t.axis, -1);
  EXPECT_EQ(t.thresholds.dim(), 0);
  EXPECT_LE((t.dequantize() - w).abs().max().item<double>(), w.abs().max().item<double>() / 254 * (1 + 1e-5));
  // Per channel is never worse than per tensor, and much better for the small rows.
  EXPECT_LT((q.dequantize() - w).pow(2).mean().item<double>(), (t.dequantize() - w).pow(2).mean().item<double>());
}

TEST(WeightQuant, ZeroChannelsGetTheMinimumThreshold) {
  at::Tensor w = at::zeros({2, 3});
  w[1][2] = 0.5;
  QuantizedWeight q = quantize_weight(w);
  EXPECT_FLOAT_EQ(q.thresholds[0].item<float>(), static_cast<float>(kMinThreshold));
  EXPECT_TRUE(at::equal(q.dequantize(), w));
  EXPECT_EQ(weight_quant_type_from_string("abs_max"), WeightQuantType::AbsMax);
  EXPECT_THROW(weight_quant_type_from_string("channel_wise"), Error);
}

TEST(FakeQuant, OnnxRangeIsMinus128To127AndLegacyIsSymmetric) {
  at::Tensor x = at::tensor({-2.0f, -1.0f, -0.5f / 127, 0.5f / 127, 1.5f / 127, 1.0f, 2.0f});
  at::Tensor onnx = quantize_levels(x, 1.0);
  EXPECT_TRUE(at::equal(onnx, at::tensor({-128.0f, -127.0f, -0.0f, 0.0f, 2.0f, 127.0f, 127.0f})));  // half to even
  FakeQuantOptions legacy;
  legacy.onnx_format = false;
  EXPECT_EQ(quantize_levels(x, 1.0, legacy)[0].item<float>(), -127.0f);
  EXPECT_NEAR(fake_quantize(x, 1.0)[5].item<float>(), 1.0f, 1e-7);
  at::Tensor pc = fake_quantize_per_channel(at::ones({2, 3}), at::tensor({1.0f, 4.0f}), 0);
  EXPECT_NEAR(pc[1][0].item<float>(), 4.0f / 127 * 32, 1e-6);  // 1 * 127 / 4 = 31.75 -> 32
}

TEST(QuantErrorStats, SqnrAndMseOfFakeQuantizedTensors) {
  at::manual_seed(2);
  at::Tensor x = at::randn({1000});
  QuantError e = quant_error(x, fake_quantize(x, x.abs().max().item<double>()));
  const double step = x.abs().max().item<double>() / 127;
  EXPECT_NEAR(e.mse, step * step / 12, step * step / 12 * 0.2) << "uniform rounding noise";
  EXPECT_NEAR(e.sqnr_db, 10 * std::log10(x.pow(2).mean().item<double>() / e.mse), 1e-5);
  EXPECT_TRUE(std::isinf(quant_error(x, x).sqnr_db));
  QuantErrorMeter m;
  m.add(x.narrow(0, 0, 400), fake_quantize(x, 1.0).narrow(0, 0, 400));
  m.add(x.narrow(0, 400, 600), fake_quantize(x, 1.0).narrow(0, 400, 600));
  EXPECT_NEAR(m.result().mse, quant_error(x, fake_quantize(x, 1.0)).mse, 1e-12);
  EXPECT_EQ(m.result().count, 1000);
}

TEST(FakeQuantHook, CalibratedModelRunsCloseToFloatAndSkipsUnlistedOperands) {
  nn::TaskModel model = testing::small_model();
  const auto batches = testing::random_batches(3);
  CalibrationObservers observers(activation_operands(*model), "abs_max");
  {
    at::NoGradGuard no_grad;
    for (const auto& b : batches) model->forward(b, observers.hook());
  }
  FakeQuantPlan plan;
  plan.activation_thresholds = observers.thresholds();
  for (const auto& site : nn::linear_sites(*model)) plan.weights[site.name] = quantize_weight(site.module->weight);
  ASSERT_EQ(plan.activation_thresholds.size(), 2u * 6 + 2 + 2u * 2 * 2);

  at::NoGradGuard no_grad;
  at::Tensor fp = model->forward(batches[0]).logits;
  at::Tensor int8 = model->forward(batches[0], make_fake_quant_hook(plan)).logits;
  QuantError e = quant_error(fp, int8);
  EXPECT_GT(e.sqnr_db, 20) << "8-bit model tracks the float model";
  EXPECT_FALSE(at::equal(fp, int8));

  // An empty plan is the identity; a weight-only plan changes only weights.
  EXPECT_TRUE(at::equal(model->forward(batches[0], make_fake_quant_hook({})).logits, fp));
  FakeQuantPlan weights_only;
  weights_only.weights = plan.weights;
  nn::SiteHook check = [&](const std::string& site, int operand, const at::Tensor& v) {
    at::Tensor out = make_fake_quant_hook(weights_only)(site, operand, v);
    if (operand == nn::kLeftOperand) {
      EXPECT_TRUE(at::equal(out, v)) << site;
    }
    return out;
  };
  model->forward(batches[0], check);
}

}  // namespace
}  // namespace slimpipe::quant
