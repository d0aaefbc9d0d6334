// Widths, reordering and slicing: parsing width_mult_list entries, the per-layer counts of a width, that
// reordering keeps the full-width function, and that a pruned model equals the supernet run at its width.
#include <gtest/gtest.h>

#include "pruning_test_support.hpp"
#include "slimpipe/nn/active_width.hpp"
#include "slimpipe/nn/prune.hpp"
#include "slimpipe/pruning/importance.hpp"
#include "slimpipe/pruning/reorder.hpp"
#include "slimpipe/pruning/width_config.hpp"

namespace slimpipe::pruning {
namespace {

using namespace pruning_test;
using Json = nlohmann::json;

TEST(WidthConfig, ParsesFractionsAndNumbers) {
  EXPECT_DOUBLE_EQ(parse_width(Json("3/4")), 0.75);
  EXPECT_DOUBLE_EQ(parse_width(Json(" 2 / 3 ")), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(parse_width(Json(0.5)), 0.5);
  EXPECT_DOUBLE_EQ(parse_width(Json(1)), 1.0);
  EXPECT_DOUBLE_EQ(parse_width(Json("0.25")), 0.25);
  EXPECT_THROW(parse_width(Json("three quarters")), Error);
  EXPECT_THROW(parse_width(Json("3/0")), Error);
  EXPECT_THROW(parse_width(Json(1.5)), Error);
  EXPECT_THROW(parse_width(Json(0)), Error);
  EXPECT_THROW(parse_width(Json(true)), Error);
  EXPECT_THROW(parse_width_list(Json::array({"3/4", 0.75})), Error);  // same artifact name twice
  EXPECT_THROW(parse_width_list(Json::array()), Error);
  EXPECT_EQ(parse_width_list(Json::array({"3/4", 0.5})), (std::vector<double>{0.75, 0.5}));
}

TEST(WidthConfig, NamesFollowPythonRounding) {
  EXPECT_EQ(width_artifact_name(0.75), "width_0.75");
  EXPECT_EQ(width_artifact_name(2.0 / 3.0), "width_0.67");
  EXPECT_EQ(width_artifact_name(0.5), "width_0.5");
  EXPECT_EQ(width_artifact_name(1.0), "width_1.0");
  EXPECT_EQ(paddle_width_name(0.75), "width_mult_0.75");
}

TEST(WidthConfig, CountsHeadsAndNeuronsPerLayer) {
  nn::EncoderConfig c = tiny_config(2, 4);
  c.intermediate_size = 100;
  const WidthConfig w = WidthConfig::for_model(c, 0.75);
  EXPECT_EQ(w.heads, (std::vector<std::int64_t>{3, 3}));
  EXPECT_EQ(w.intermediate, (std::vector<std::int64_t>{75, 75}));
  EXPECT_EQ(w.name(), "width_0.75");
  c.num_attention_heads = 12;
  c.hidden_size = 48;
  EXPECT_EQ(WidthConfig::for_model(c, 2.0 / 3.0).heads, (std::vector<std::int64_t>{8, 8}));
  EXPECT_EQ(WidthConfig::for_model(c, 2.0 / 3.0).intermediate, (std::vector<std::int64_t>{66, 66}));
}

TEST(WidthConfig, NonWholeHeadCountIsAOneLineErrorListingValidWidths) {
  const nn::EncoderConfig c = tiny_config(2, 4);
  try {
    WidthConfig::for_model(c, 0.6);
    FAIL() << "0.6 of 4 heads was accepted";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    EXPECT_NE(what.find("width_mult_list"), std::string::npos) << what;
    EXPECT_NE(what.find("0.25, 0.5, 0.75, 1.0"), std::string::npos) << what;
  }
  nn::EncoderConfig twelve = c;
  twelve.num_attention_heads = 12;
  twelve.hidden_size = 48;
  try {
    WidthConfig::for_model(twelve, 0.6);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"2/3\", 0.75"), std::string::npos) << e.what();
  }
}

TEST(Reorder, DescendingOrderKeepsTiesInPlace) {
  EXPECT_EQ(descending_order(torch::tensor({0.1, 0.5, 0.5, 0.2})), (std::vector<std::int64_t>{1, 2, 3, 0}));
}

class WidthModelTest : public ::testing::TestWithParam<nn::TaskHead> {};

TEST_P(WidthModelTest, ReorderingLeavesFullWidthOutputsUnchanged) {
  const nn::TaskHead head = GetParam();
  const auto config = tiny_config(2, 4);
  nn::TaskModel model = random_model(config, head);
  LabelledFeatures data(8, 9, config.vocab_size, 3, head != nn::TaskHead::SequenceClassification, 4);
  const Batch batch = data.collate({0, 1, 2, 3, 4, 5});
  torch::NoGradGuard no_grad;
  const nn::EncoderOutput before = model->forward(batch.inputs);

  Importance imp;
  imp.heads = torch::tensor({0.1, 0.9, 0.5, 0.3, 0.7, 0.2, 0.4, 0.8}).view({2, 4});
  imp.neurons = {torch::randperm(64).to(torch::kFloat), torch::randperm(64).to(torch::kFloat)};
  const ReorderPlan plan = plan_reorder(*model, imp);
  apply_reorder(*model, plan);
  const nn::EncoderOutput after = model->forward(batch.inputs);
  EXPECT_LE(max_abs_diff(before.logits, after.logits), 1e-5);
  for (std::size_t j = 0; j < before.taps.size(); ++j) EXPECT_LE(max_abs_diff(before.taps[j], after.taps[j]), 1e-5);
  // The plan sorts by descending importance.
  EXPECT_EQ(plan.heads[0], (std::vector<std::int64_t>{1, 2, 3, 0}));
  EXPECT_EQ(plan.heads[1], (std::vector<std::int64_t>{3, 0, 2, 1}));
}

TEST_P(WidthModelTest, PrunedModelEqualsSupernetAtThatWidth) {
  const nn::TaskHead head = GetParam();
  const auto config = tiny_config(2, 4);
  nn::TaskModel model = random_model(config, head);
  LabelledFeatures data(6, 9, config.vocab_size, 3, false, 6);
  const Batch batch = data.collate({0, 1, 2, 3, 4, 5});
  torch::NoGradGuard no_grad;
  for (double w : {0.25, 0.5, 0.75}) {
    const WidthConfig width = WidthConfig::for_model(config, w);
    nn::TaskModel pruned = nn::prune(*model, width.heads, width.intermediate);
    const nn::EncoderOutput small = pruned->forward(batch.inputs);
    nn::EncoderOutput super;
    {
      nn::ActiveWidthScope scope(*model, width.heads, width.intermediate);
      super = model->forward(batch.inputs);
    }
    EXPECT_LE(max_abs_diff(small.logits, super.logits), 1e-5) << "width " << w;
    ASSERT_EQ(small.taps.size(), super.taps.size());
    for (std::size_t j = 0; j < small.taps.size(); ++j) EXPECT_LE(max_abs_diff(small.taps[j], super.taps[j]), 1e-5);
    // The scope ended: the supernet is whole again and differs from the pruned model.
    EXPECT_GT(max_abs_diff(model->forward(batch.inputs).logits, small.logits), 1e-3) << "width " << w;
  }
}

INSTANTIATE_TEST_SUITE_P(Heads, WidthModelTest,
                         ::testing::Values(nn::TaskHead::SequenceClassification, nn::TaskHead::TokenClassification,
                                           nn::TaskHead::QuestionAnswering),
                         [](const auto& info) { return std::string(nn::to_string(info.param)); });

TEST(ActiveWidth, GradientsReachOnlyTheLeadingRowsOfTheSharedWeights) {
  const auto config = tiny_config(1, 4);
  nn::TaskModel model = random_model(config, nn::TaskHead::SequenceClassification);
  LabelledFeatures data(4, 7, config.vocab_size, 3, false, 8);
  const Batch batch = data.collate({0, 1, 2, 3});
  const WidthConfig width = WidthConfig::for_model(config, 0.5);  // 2 heads of 4, 32 neurons of 64
  {
    nn::ActiveWidthScope scope(*model, width.heads, width.intermediate);
    model->forward(batch.inputs).logits.pow(2).sum().backward();
  }
  auto layer = model->encoder->layer(0);
  const auto& gq = layer->attention->self->query->weight.grad();
  const std::int64_t kept = 2 * config.head_dim();
  EXPECT_GT(gq.narrow(0, 0, kept).abs().sum().item<double>(), 0.0);
  EXPECT_EQ(gq.narrow(0, kept, gq.size(0) - kept).abs().sum().item<double>(), 0.0);
  const auto& go = layer->attention->output->dense->weight.grad();
  EXPECT_EQ(go.narrow(1, kept, go.size(1) - kept).abs().sum().item<double>(), 0.0);
  const auto& g1 = layer->intermediate->dense->weight.grad();
  EXPECT_GT(g1.narrow(0, 0, 32).abs().sum().item<double>(), 0.0);
  EXPECT_EQ(g1.narrow(0, 32, 32).abs().sum().item<double>(), 0.0);
  const auto& g2 = layer->output->dense->weight.grad();
  EXPECT_EQ(g2.narrow(1, 32, 32).abs().sum().item<double>(), 0.0);
}

TEST(ActiveWidth, RejectsCountsOutOfRange) {
  const auto config = tiny_config(2, 4);
  nn::TaskModel model = random_model(config, nn::TaskHead::SequenceClassification);
  EXPECT_THROW(nn::set_active_width(*model, {5, 4}, {64, 64}), Error);
  EXPECT_THROW(nn::set_active_width(*model, {4, 4}, {64, 65}), Error);
  EXPECT_THROW(nn::set_active_width(*model, {4}, {64}), Error);
}

}  // namespace
}  // namespace slimpipe::pruning
