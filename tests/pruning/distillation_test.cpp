// The distillation loss terms and the width-adaptive training loop: teacher frozen, every width trained,
// the loss falls, each width's best pruned model kept with the right shape.
#include <gtest/gtest.h>

#include "pruning_test_support.hpp"
#include "slimpipe/nn/active_width.hpp"
#include "slimpipe/pruning/distillation_loss.hpp"
#include "slimpipe/pruning/model_cost.hpp"
#include "slimpipe/pruning/width_distillation.hpp"
#include "slimpipe/train/weight_init.hpp"

namespace slimpipe::pruning {
namespace {

using namespace pruning_test;

TEST(DistillationLoss, SoftCrossEntropyIsTeacherEntropyAtEqualityAndSkipsPaddedRows) {
  at::Tensor t = torch::randn({4, 5});
  const double entropy = -(torch::softmax(t, -1) * torch::log_softmax(t, -1)).sum(-1).mean().item<double>();
  EXPECT_NEAR(soft_cross_entropy(t, t).item<double>(), entropy, 1e-6);
  // Against a one-hot-like teacher it is the hard cross-entropy.
  at::Tensor s = torch::randn({4, 5});
  at::Tensor sharp = torch::full({4, 5}, -1e4);
  for (int i = 0; i < 4; ++i) sharp[i][i] = 0;
  const double ce = -torch::log_softmax(s, -1).diagonal().mean().item<double>();
  EXPECT_NEAR(soft_cross_entropy(s, sharp).item<double>(), ce, 1e-5);
  // Rows with weight 0 do not count.
  at::Tensor w = torch::tensor({1.0, 1.0, 0.0, 0.0});
  EXPECT_NEAR(soft_cross_entropy(s, sharp, w).item<double>(),
              soft_cross_entropy(s.narrow(0, 0, 2), sharp.narrow(0, 0, 2)).item<double>(), 1e-6);
}

TEST(DistillationLoss, HiddenMseIgnoresPadding) {
  at::Tensor a = torch::randn({2, 3, 4}), b = a.clone();
  b[1][2] += 100.0;  // a padded position
  at::Tensor mask = torch::tensor({1, 1, 1, 1, 1, 0}).view({2, 3});
  EXPECT_NEAR(masked_mse(a, b, mask).item<double>(), 0.0, 1e-12);
  b[0][0][0] += 1.0;
  EXPECT_NEAR(masked_mse(a, b, mask).item<double>(), 1.0 / (5 * 4), 1e-6);
}

TEST(DistillationLoss, CombinesLambdaTimesHiddenPlusLogits) {
  const auto config = tiny_config(2, 4);
  nn::TaskModel teacher = random_model(config, nn::TaskHead::TokenClassification, 1);
  nn::TaskModel student = random_model(config, nn::TaskHead::TokenClassification, 2);
  LabelledFeatures data(3, 6, config.vocab_size, 3, true, 1);
  const Batch b = data.collate({0, 1, 2});
  torch::NoGradGuard no_grad;
  const auto s = student->forward(b.inputs), t = teacher->forward(b.inputs);
  const DistillLoss loss = distill_loss(s, t, nn::TaskHead::TokenClassification, 0.1, b.inputs.attention_mask);
  double hidden = 0;
  for (std::size_t j = 0; j < 3; ++j)
    hidden += masked_mse(s.taps[j], t.taps[j], b.inputs.attention_mask).item<double>();
  EXPECT_NEAR(loss.hidden.item<double>(), hidden, 1e-5);
  EXPECT_NEAR(loss.total.item<double>(), 0.1 * hidden + loss.logits.item<double>(), 1e-5);
  EXPECT_GT(loss.logits.item<double>(), 0.0);
}

TEST(WidthDistillation, TrainsEveryWidthAgainstAFrozenTeacher) {
  // A smooth teacher (BERT init at a larger scale) and no dropout: the loss falls steadily.
  auto config = tiny_config(2, 4);
  config.hidden_dropout_prob = config.attention_probs_dropout_prob = 0.0;
  torch::manual_seed(3);
  nn::TaskModel teacher(config, nn::TaskHead::SequenceClassification);
  train::init_bert_weights(*teacher, 0.2);
  nn::TaskModel student(std::dynamic_pointer_cast<nn::TaskModelImpl>(teacher->clone()));
  std::map<std::string, at::Tensor> teacher_before;
  for (const auto& p : teacher->named_parameters()) teacher_before[p.key()] = p.value().clone();

  LabelTask task(nn::TaskHead::SequenceClassification);
  task.train = std::make_shared<LabelledFeatures>(64, 8, config.vocab_size, 3, false, 11);
  task.eval = std::make_shared<LabelledFeatures>(32, 8, config.vocab_size, 3, false, 12);
  TestContext ctx(&task);
  train::TrainingArguments args;
  args.learning_rate = 3e-3;
  args.max_steps = 40;
  args.per_device_train_batch_size = 16;
  args.per_device_eval_batch_size = 32;
  args.logging_steps = 10;
  args.save_steps = 20;
  args.warmup_ratio = 0.1;
  std::vector<WidthConfig> widths{WidthConfig::for_model(config, 0.5), WidthConfig::for_model(config, 0.25)};
  WidthDistillation distill(student, teacher, task, args, 0.1, widths, ctx);
  distill.set_train_data(task.train);
  distill.set_eval_data(task.eval);
  const DistillationResult result = distill.train();

  EXPECT_EQ(result.steps, 40);
  for (const auto& p : teacher->named_parameters()) {
    EXPECT_FALSE(p.value().requires_grad()) << p.key();
    EXPECT_TRUE(p.value().equal(teacher_before.at(p.key()))) << p.key() << " changed";
  }
  EXPECT_FALSE(teacher->is_training());
  // Losses logged per width; both fall. The soft cross-entropy cannot drop below the teacher's entropy
  // (about ln 3 for this near-uniform teacher), so the clear signal is the hidden-state MSE.
  std::vector<Json> logs;
  for (const auto& h : result.log_history)
    if (h.contains("losses")) logs.push_back(h["losses"]);
  ASSERT_EQ(logs.size(), 4u);
  for (const char* w : {"0.5", "0.25"}) {
    ASSERT_TRUE(logs.front().contains(w)) << logs.front().dump();
    EXPECT_LT(logs.back()[w]["loss"].get<double>(), logs.front()[w]["loss"].get<double>()) << w;
    EXPECT_LT(logs.back()[w]["hidden_mse"].get<double>(), 0.8 * logs.front()[w]["hidden_mse"].get<double>()) << w;
    EXPECT_LT(logs.back()[w]["logits_sce"].get<double>(), logs.front()[w]["logits_sce"].get<double>()) << w;
  }
  // Evaluations at steps 20 and 40, every width each time.
  int evals = 0;
  for (const auto& h : result.log_history)
    if (h.contains("eval")) {
      ++evals;
      EXPECT_TRUE(h["eval"].contains("0.5") && h["eval"].contains("0.25"));
    }
  EXPECT_EQ(evals, 2);
  ASSERT_EQ(result.widths.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    const auto& o = result.widths[i];
    ASSERT_TRUE(o.best.has_value());
    // The best of the slice before distillation (step 0) and the evaluations at steps 20 and 40, on dev.
    EXPECT_TRUE(o.best_step == 0 || o.best_step == 20 || o.best_step == 40);
    EXPECT_GE(o.best->value, o.sliced.value);
    for (const auto& h : result.log_history)
      if (h.contains("eval")) {
        const auto& m = h["eval"][i == 0 ? "0.5" : "0.25"];
        EXPECT_GE(o.best->value, m[o.best->primary].get<double>()) << h.dump();
      }
    ASSERT_TRUE(o.best_model);
    for (std::int64_t l = 0; l < 2; ++l) {
      EXPECT_EQ(o.best_model->config().num_heads(l), widths[i].heads[static_cast<std::size_t>(l)]);
      EXPECT_EQ(o.best_model->config().intermediate_size_of(l), widths[i].intermediate[static_cast<std::size_t>(l)]);
    }
    // The kept model scores what was recorded for it.
    EXPECT_NEAR(task.evaluate(*nn::TaskModel(o.best_model), *task.eval, 32).value, o.best->value, 1e-9);
  }
  // Student-side: no gradients left over, and the log names every width.
  bool logged = false;
  for (const auto& line : ctx.logger.lines) logged = logged || line.find("loss@0.25=") != std::string::npos;
  EXPECT_TRUE(logged);
}

TEST(ModelCost, CountsFlopsPerTokenOfPrunedLayers) {
  nn::EncoderConfig c = tiny_config(2, 4);  // D 32, A 32, F 64
  const double full = 2 * (3 * 2 * 32 * 32 + 2 * 2 * 10 * 32 + 2 * 32 * 32 + 2 * 2 * 32 * 64);
  EXPECT_DOUBLE_EQ(encoder_flops_per_token(c, 10), full);
  nn::TaskModel m = random_model(c, nn::TaskHead::SequenceClassification);
  std::int64_t n = 0;
  for (const auto& p : m->parameters()) n += p.numel();
  EXPECT_EQ(parameter_count(*m), n);
}

}  // namespace
}  // namespace slimpipe::pruning
