// AdamW parameter groups (no decay on biases and LayerNorm weights), decoupled weight decay, the
// scheduled learning rate and global-norm clipping.
#include "slimpipe/train/optimizer.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "train_test_support.hpp"

using namespace slimpipe;

TEST(Optimizer, NoDecayGroupHoldsExactlyBiasesAndLayerNormWeights) {
  nn::TaskModel model(train_test::tiny_config(2), nn::TaskHead::SequenceClassification);
  const auto g = train::group_parameters(*model);
  auto has = [](const std::vector<std::string>& v, const std::string& n) {
    return std::find(v.begin(), v.end(), n) != v.end();
  };
  EXPECT_TRUE(has(g.no_decay_names, "embeddings.LayerNorm.weight"));
  EXPECT_TRUE(has(g.no_decay_names, "embeddings.LayerNorm.bias"));
  EXPECT_TRUE(has(g.no_decay_names, "encoder.layer.1.attention.self.query.bias"));
  EXPECT_TRUE(has(g.no_decay_names, "encoder.layer.0.output.LayerNorm.weight"));
  EXPECT_TRUE(has(g.no_decay_names, "classifier.bias"));
  EXPECT_TRUE(has(g.decay_names, "embeddings.word_embeddings.weight"));
  EXPECT_TRUE(has(g.decay_names, "encoder.layer.1.attention.self.query.weight"));
  EXPECT_TRUE(has(g.decay_names, "pooler.dense.weight"));
  EXPECT_TRUE(has(g.decay_names, "classifier.weight"));
  for (const auto& n : g.decay_names)
    EXPECT_TRUE(n.find("bias") == std::string::npos && n.find("LayerNorm") == std::string::npos) << n;
  for (const auto& n : g.no_decay_names)
    EXPECT_TRUE(n.find("bias") != std::string::npos || n.find("LayerNorm.weight") != std::string::npos) << n;
  EXPECT_EQ(g.decay.size() + g.no_decay.size(), model->parameters().size());
}

TEST(Optimizer, WeightDecayShrinksOnlyTheDecayGroup) {
  nn::TaskModel model(train_test::tiny_config(), nn::TaskHead::SequenceClassification);
  train::TrainingArguments args;
  args.learning_rate = 0.1;
  args.weight_decay = 0.5;
  args.max_grad_norm = 0;
  args.lr_scheduler_type = "constant";
  train::TrainingOptimizer opt(*model, args, 10);
  EXPECT_DOUBLE_EQ(static_cast<torch::optim::AdamWOptions&>(opt.optimizer().param_groups()[0].options()).weight_decay(),
                   0.5);
  EXPECT_DOUBLE_EQ(static_cast<torch::optim::AdamWOptions&>(opt.optimizer().param_groups()[1].options()).weight_decay(),
                   0.0);
  // With zero gradients Adam's update is zero, so only the decoupled decay p *= 1 - lr * wd moves weights.
  std::map<std::string, at::Tensor> before;
  for (const auto& p : model->named_parameters()) {
    before[p.key()] = p.value().detach().clone();
    p.value().mutable_grad() = torch::zeros_like(p.value());
  }
  opt.apply();
  for (const auto& p : model->named_parameters()) {
    const bool decays = !train::excluded_from_weight_decay(p.key());
    const auto expected = decays ? before[p.key()] * (1 - 0.1 * 0.5) : before[p.key()];
    EXPECT_TRUE(torch::allclose(p.value(), expected, 1e-6, 1e-7)) << p.key();
  }
}

TEST(Optimizer, LearningRateFollowsTheScheduleStepByStep) {
  nn::TaskModel model(train_test::tiny_config(), nn::TaskHead::SequenceClassification);
  train::TrainingArguments args;
  args.learning_rate = 1e-3;
  args.warmup_steps = 2;
  train::TrainingOptimizer opt(*model, args, 10);
  for (auto& p : model->parameters()) p.mutable_grad() = torch::zeros_like(p);
  std::vector<double> seen;
  for (int i = 0; i < 4; ++i) {
    seen.push_back(opt.learning_rate());
    opt.apply();
    // What AdamW actually used for this update.
    EXPECT_DOUBLE_EQ(static_cast<torch::optim::AdamWOptions&>(opt.optimizer().param_groups()[1].options()).lr(),
                     seen.back());
  }
  EXPECT_DOUBLE_EQ(seen[0], 0.0);
  EXPECT_DOUBLE_EQ(seen[1], 1e-3 * 0.5);
  EXPECT_DOUBLE_EQ(seen[2], 1e-3 * 1.0);
  EXPECT_DOUBLE_EQ(seen[3], 1e-3 * (10.0 - 3.0) / 8.0);
  EXPECT_EQ(opt.step(), 4);
}

TEST(Optimizer, ClippingBoundsTheGlobalNorm) {
  auto a = torch::zeros({3}, torch::requires_grad());
  auto b = torch::zeros({2, 2}, torch::requires_grad());
  a.mutable_grad() = torch::full({3}, 4.0);
  b.mutable_grad() = torch::full({2, 2}, 3.0);
  const double before = std::sqrt(3 * 16.0 + 4 * 9.0);
  EXPECT_NEAR(train::clip_grad_norm({a, b}, 1.0), before, 1e-5);
  const double after = std::sqrt(a.grad().pow(2).sum().item<double>() + b.grad().pow(2).sum().item<double>());
  EXPECT_NEAR(after, 1.0, 1e-5);
  // Direction is kept: each gradient is scaled by the same factor.
  EXPECT_NEAR(a.grad()[0].item<double>() / b.grad()[0][0].item<double>(), 4.0 / 3.0, 1e-5);
  // A norm already under the bound is left alone.
  train::clip_grad_norm({a, b}, 5.0);
  EXPECT_NEAR(std::sqrt(a.grad().pow(2).sum().item<double>() + b.grad().pow(2).sum().item<double>()), 1.0, 1e-5);
}
