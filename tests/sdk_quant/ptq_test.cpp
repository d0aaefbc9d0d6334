// One PTQ cell end to end on a small random model: which features calibrate, which sites are quantized, the
// plan on disk, AdaRound and bias correction inside a cell, and the sensitivity report.
#include "slimpipe/quant/ptq.hpp"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "quant_test_model.hpp"
#include "slimpipe/error.hpp"
#include "slimpipe/quant/fake_quant.hpp"
#include "slimpipe/quant/site_calibration.hpp"
#include "slimpipe/tasks/evaluation_loop.hpp"

namespace slimpipe::quant {
namespace {

using testing::RandomFeatures;

std::filesystem::path scratch(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("slimpipe_ptq_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

TEST(Ptq, CalibratesOnTheFirstBatchSizeTimesBatchNumFeaturesInOrder) {
  nn::TaskModel model = testing::small_model();
  RandomFeatures data(40);
  PtqOptions o;
  o.algo = "abs_max";
  o.batch_size = 4;
  o.batch_num = 3;
  PtqResult r = quantize_post_training(*model, data, o);
  EXPECT_EQ(r.calibration_features, 12);
  EXPECT_EQ(r.calibration_batches, 3);
  EXPECT_EQ(data.seen, (std::set<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));

  // abs_max thresholds are max |x| over exactly those features (run as batches of 4, as calibration did).
  CalibrationObservers reference(activation_operands(*model), "abs_max");
  RandomFeatures first(40);
  tasks::run_evaluation(*model, *first_features(std::shared_ptr<const FeatureSet>(&first, [](auto*) {}), 12), 4,
                        reference.hook(), [](const Batch&, const nn::EncoderOutput&) {});
  // ... except the attention probabilities, which take their range [0, 1] (probs_fixed_range, the default).
  std::map<SiteOperandKey, double> expected = reference.thresholds();
  for (auto& [key, t] : expected)
    if (is_attention_probs(key)) t = kAttentionProbsThreshold;
  EXPECT_EQ(r.plan.activation_thresholds, expected);

  // batch_num = 0: all of them, the short last batch included.
  RandomFeatures all(10);
  o.batch_num = 0;
  PtqResult r2 = quantize_post_training(*model, all, o);
  EXPECT_EQ(r2.calibration_features, 10);
  EXPECT_EQ(r2.calibration_batches, 3);
  EXPECT_EQ(all.seen.size(), 10u);
}

TEST(Ptq, QuantizesEveryLinearAndBothAttentionOperandsUnlessSkipped) {
  nn::TaskModel model = testing::small_model();
  RandomFeatures data(16);
  PtqOptions o;
  o.algo = "KL";
  PtqResult r = quantize_post_training(*model, data, o);
  const auto linears = nn::linear_sites(*model);
  EXPECT_EQ(r.plan.weights.size(), linears.size());
  EXPECT_EQ(r.plan.activation_thresholds.size(), activation_operands(*model).size());
  for (const auto& [site, q] : r.plan.weights) {
    EXPECT_EQ(q.levels.scalar_type(), at::kChar) << site;
    EXPECT_TRUE(q.per_channel()) << site;
  }

  o.skip_sites = {"encoder.layer.0.*", "classifier"};
  o.linear_only = true;
  o.weight_type = WeightQuantType::AbsMax;
  PtqResult s = quantize_post_training(*model, data, o);
  for (const auto& site : plan_sites(s.plan)) {
    EXPECT_EQ(site.rfind("encoder.layer.0.", 0), std::string::npos) << site;
    EXPECT_NE(site, "classifier");
    EXPECT_EQ(site.find(".qk"), std::string::npos) << site;
    EXPECT_EQ(site.find(".pv"), std::string::npos) << site;
  }
  EXPECT_TRUE(s.plan.weights.count("encoder.layer.1.output.dense"));
  EXPECT_FALSE(s.plan.weights.at("encoder.layer.1.output.dense").per_channel());

  o.skip_sites = {"encoder.layer.*.attention.output.dence"};
  try {
    quantize_post_training(*model, data, o);
    FAIL() << "a pattern matching nothing must be an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'encoder.layer.*.attention.output.dence' matches no site"), std::string::npos)
        << e.what();
  }
}

TEST(Ptq, FakeQuantModelMatchesTheHookAndStaysCloseToFp32) {
  nn::TaskModel model = testing::small_model();
  RandomFeatures data(32);
  PtqOptions o;
  o.algo = "mse";
  o.batch_size = 8;
  o.batch_num = 4;
  PtqResult r = quantize_post_training(*model, data, o);
  const SensitivityReport rep = site_sensitivity(*model, *r.model, r.plan, data, 8);
  // 8-bit on a random model: the logits move, but far less than their own size.
  EXPECT_GT(rep.logits.sqnr_db, 15.0);
  EXPECT_LT(rep.logits.sqnr_db, 80.0);
  EXPECT_EQ(rep.sites.size(), plan_sites(r.plan).size());
  for (std::size_t i = 1; i < rep.sites.size(); ++i)
    EXPECT_LE(rep.sites[i - 1].output.sqnr_db, rep.sites[i].output.sqnr_db);

  // A site given an absurdly small input threshold becomes the most sensitive.
  FakeQuantPlan broken = r.plan;
  broken.activation_thresholds[{"encoder.layer.1.intermediate.dense", 0}] = 1e-3;
  const SensitivityReport rep2 = site_sensitivity(*model, *r.model, broken, data, 8);
  EXPECT_EQ(rep2.sites.front().site, "encoder.layer.1.intermediate.dense");
  EXPECT_LT(rep2.logits.sqnr_db, rep.logits.sqnr_db);

  // Removing every site gives back the fp32 model exactly.
  const SensitivityReport none = site_sensitivity(*model, *r.model, without_sites(r.plan, plan_sites(r.plan)), data, 8);
  EXPECT_TRUE(none.sites.empty());
  EXPECT_TRUE(std::isinf(none.logits.sqnr_db));
}

TEST(Ptq, AdaRoundAndBiasCorrectionInsideACell) {
  nn::TaskModel model = testing::small_model();
  RandomFeatures data(32);
  PtqOptions o;
  o.algo = "abs_max";
  o.batch_size = 8;
  o.batch_num = 4;
  o.round_type = RoundType::AdaRound;
  o.adaround.iterations = 300;
  o.adaround.learning_rate = 1e-2;
  o.bias_correction = true;
  PtqResult r = quantize_post_training(*model, data, o);
  ASSERT_EQ(r.adaround.size(), nn::linear_sites(*model).size());
  for (const auto& [site, l] : r.adaround) EXPECT_LT(l.adaround_loss, l.nearest_loss) << site;
  // Bias correction changed the copy's biases, not the input model's.
  const auto in = nn::linear_sites(*model);
  const auto out = nn::linear_sites(*r.model);
  bool changed = false;
  for (std::size_t i = 0; i < in.size(); ++i) {
    changed = changed || !at::equal(in[i].module->bias, out[i].module->bias);
    EXPECT_TRUE(at::equal(in[i].module->weight, out[i].module->weight));
  }
  EXPECT_TRUE(changed);
}

TEST(Ptq, PlanRoundTripsThroughDiskAndCorruptFilesAreNamed) {
  nn::TaskModel model = testing::small_model();
  RandomFeatures data(16);
  PtqOptions o;
  o.algo = "hist";
  o.observer.hist_percent = 0.9999;
  o.skip_sites = {"encoder.layer.1.attention.self.pv"};
  PtqResult r = quantize_post_training(*model, data, o);
  const auto dir = scratch("plan");
  save_plan(dir, r.plan, {{"cell", "hist4_1"}});
  const FakeQuantPlan back = load_plan(dir);
  EXPECT_EQ(back.activation_thresholds, r.plan.activation_thresholds);
  ASSERT_EQ(back.weights.size(), r.plan.weights.size());
  for (const auto& [site, q] : r.plan.weights) {
    EXPECT_TRUE(at::equal(back.weights.at(site).levels, q.levels)) << site;
    EXPECT_TRUE(at::equal(back.weights.at(site).thresholds, q.thresholds)) << site;
    EXPECT_EQ(back.weights.at(site).axis, q.axis);
  }
  EXPECT_EQ(back.options.bits, 8);
  EXPECT_GT(quantized_size_bytes(*model, r.plan), 0);
  EXPECT_LT(quantized_size_bytes(*model, r.plan), fp32_size_bytes(*model));

  std::ofstream(dir / "calibration.json") << "{\"format\": \"slimpipe.calibration/1\", \"bits\": ";
  try {
    load_plan(dir);
    FAIL() << "truncated calibration.json must be an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find((dir / "calibration.json").string() + ": not valid JSON"), std::string::npos)
        << e.what();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace slimpipe::quant
