// Importance scores against finite differences: head importance is |dL/d head_mask| summed over batches,
// neuron importance the first-order change of the loss when a neuron's weights are scaled.
#include "slimpipe/pruning/importance.hpp"

#include <gtest/gtest.h>

#include "pruning_test_support.hpp"

namespace slimpipe::pruning {
namespace {

using namespace pruning_test;

constexpr double kFdStep = 1e-5;

// Loss of one batch with the given head mask (double precision, eval mode).
double batch_loss(nn::TaskModelImpl& model, const Task& task, Batch batch, const at::Tensor& head_mask) {
  torch::NoGradGuard no_grad;
  batch.inputs.head_mask = head_mask;
  return task.loss(model.forward(batch.inputs), batch).item<double>();
}

class ImportanceTest : public ::testing::TestWithParam<nn::TaskHead> {};

TEST_P(ImportanceTest, HeadImportanceMatchesFiniteDifferences) {
  const nn::TaskHead head = GetParam();
  const auto config = tiny_config(2, 4);
  nn::TaskModel model = random_model(config, head);
  model->to(torch::kDouble);
  LabelTask task(head);
  LabelledFeatures data(10, 9, config.vocab_size, 3, head == nn::TaskHead::TokenClassification, 3);
  const Importance imp = compute_importance(*model, task, data, 4, torch::kCPU);  // 3 batches: 4, 4, 2
  ASSERT_EQ(imp.batches, 3);
  ASSERT_EQ(imp.heads.sizes(), (std::vector<std::int64_t>{2, 4}));

  at::Tensor expected = torch::zeros({2, 4}, torch::kDouble);
  for (std::int64_t start = 0; start < data.size(); start += 4) {
    std::vector<std::int64_t> idx;
    for (std::int64_t i = start; i < std::min<std::int64_t>(data.size(), start + 4); ++i) idx.push_back(i);
    const Batch batch = data.collate(idx);
    for (std::int64_t l = 0; l < 2; ++l)
      for (std::int64_t h = 0; h < 4; ++h) {
        at::Tensor plus = torch::ones({2, 4}, torch::kDouble), minus = plus.clone();
        plus[l][h] = 1 + kFdStep;
        minus[l][h] = 1 - kFdStep;
        const double g =
            (batch_loss(*model, task, batch, plus) - batch_loss(*model, task, batch, minus)) / (2 * kFdStep);
        expected[l][h] += std::abs(g);  // |.| per batch, then summed
      }
  }
  EXPECT_LE(max_abs_diff(imp.heads, expected), 1e-3) << imp.heads << "\n" << expected;
  EXPECT_GT(expected.min().item<double>(), 1e-3) << "every head should matter in a random model";
  // Gradients went through autograd::grad: nothing is left in .grad for the first training step.
  for (const auto& p : model->parameters()) EXPECT_FALSE(p.grad().defined());
}

TEST_P(ImportanceTest, NeuronImportanceIsTheTaylorTermOfScalingEachNeuron) {
  const nn::TaskHead head = GetParam();
  const auto config = tiny_config(1, 2);
  nn::TaskModel model = random_model(config, head, 21);
  model->to(torch::kDouble);
  LabelTask task(head);
  LabelledFeatures data(6, 8, config.vocab_size, 3, head == nn::TaskHead::TokenClassification, 5);
  const Importance imp = compute_importance(*model, task, data, 6, torch::kCPU);  // one batch
  const Batch batch = data.collate({0, 1, 2, 3, 4, 5});
  auto layer = model->encoder->layer(0);
  auto& w1 = layer->intermediate->dense->weight;
  auto& b1 = layer->intermediate->dense->bias;
  auto& w2 = layer->output->dense->weight;
  // d/dt L(W1[n] (1+t), b1[n] (1+t)) = sum_D W1*dW1 + b1*db1 at t = 0; likewise for column n of W2.
  auto scaled_loss = [&](std::int64_t n, double t, bool input_side) {
    torch::NoGradGuard no_grad;
    at::Tensor w1_keep = w1[n].clone(), b1_keep = b1[n].clone(), w2_keep = w2.select(1, n).clone();
    if (input_side) {
      w1[n].mul_(1 + t);
      b1[n].mul_(1 + t);
    } else {
      w2.select(1, n).mul_(1 + t);
    }
    const double loss = task.loss(model->forward(batch.inputs), batch).item<double>();
    w1[n].copy_(w1_keep);
    b1[n].copy_(b1_keep);
    w2.select(1, n).copy_(w2_keep);
    return loss;
  };
  for (std::int64_t n : {0, 7, 33, 63}) {
    const double in = (scaled_loss(n, kFdStep, true) - scaled_loss(n, -kFdStep, true)) / (2 * kFdStep);
    const double out = (scaled_loss(n, kFdStep, false) - scaled_loss(n, -kFdStep, false)) / (2 * kFdStep);
    EXPECT_NEAR(imp.neurons[0][n].item<double>(), std::abs(in) + std::abs(out), 1e-3) << "neuron " << n;
  }
}

INSTANTIATE_TEST_SUITE_P(Heads, ImportanceTest,
                         ::testing::Values(nn::TaskHead::SequenceClassification, nn::TaskHead::TokenClassification),
                         [](const auto& info) { return std::string(nn::to_string(info.param)); });

TEST(Importance, RestoresTrainingModeAndRejectsEmptyData) {
  const auto config = tiny_config(1, 2);
  nn::TaskModel model = random_model(config, nn::TaskHead::SequenceClassification);
  model->train();
  LabelTask task(nn::TaskHead::SequenceClassification);
  LabelledFeatures data(4, 6, config.vocab_size, 3, false, 1);
  compute_importance(*model, task, data, 2, torch::kCPU);
  EXPECT_TRUE(model->is_training());
  LabelledFeatures empty(0, 6, config.vocab_size, 3, false, 1);
  EXPECT_THROW(compute_importance(*model, task, empty, 2, torch::kCPU), Error);
}

}  // namespace
}  // namespace slimpipe::pruning
