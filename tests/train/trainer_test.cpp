// The training loop on a tiny in-test task: it learns, it keeps and restores the best evaluated
// state, it is deterministic for a seed, and it stops when cancelled.
#include "slimpipe/train/trainer.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "slimpipe/train/weight_init.hpp"
#include "train_test_support.hpp"

using namespace slimpipe;
using train_test::OrderTask;
using train_test::TestContext;

namespace {

nn::TaskModel seeded_model(std::uint64_t seed, std::int64_t layers = 1) {
  torch::manual_seed(seed);
  nn::TaskModel model(train_test::tiny_config(layers), nn::TaskHead::SequenceClassification);
  train::init_bert_weights(*model);
  return model;
}

train::TrainingArguments fast_args() {
  train::TrainingArguments a;
  a.learning_rate = 3e-3;
  a.per_device_train_batch_size = 16;
  a.per_device_eval_batch_size = 64;
  a.num_train_epochs = 12;
  a.warmup_ratio = 0.1;
  a.logging_steps = 16;
  a.save_steps = 48;
  return a;
}

// Evaluation returns a scripted score sequence and snapshots the weights it was shown.
class ScriptedEvalTask final : public OrderTask {
 public:
  Metrics evaluate(nn::TaskModelImpl& model, const FeatureSet&, std::int64_t, const nn::SiteHook&) const override {
    torch::NoGradGuard no_grad;
    std::map<std::string, at::Tensor> snap;
    for (const auto& p : model.named_parameters()) snap[p.key()] = p.value().detach().clone();
    snapshots.push_back(snap);
    Metrics m;
    m.primary = "accuracy";
    m.value = scores.at(snapshots.size() - 1);
    m.all["accuracy"] = m.value;
    return m;
  }
  std::vector<double> scores;
  mutable std::vector<std::map<std::string, at::Tensor>> snapshots;
};

}  // namespace

TEST(Trainer, TinyModelLearnsTinyDatasetAndLossFalls) {
  OrderTask task;
  TestContext ctx(&task, 1);  // one thread: the tests share 2 cores with other work
  train::Trainer trainer(seeded_model(1), task, fast_args(), ctx);
  trainer.set_train_data(task.train);
  trainer.set_eval_data(task.eval);
  const double before = trainer.evaluate().value;
  const auto result = trainer.train();
  const auto& history = result.log_history;
  double first_loss = -1, last_loss = -1;
  for (const auto& h : history)
    if (h.contains("loss")) (first_loss < 0 ? first_loss : last_loss) = h["loss"].get<double>();
  EXPECT_EQ(result.steps, 16 * 12);
  EXPECT_LT(last_loss, 0.5 * first_loss) << "first " << first_loss << " last " << last_loss;
  ASSERT_TRUE(result.best.has_value());
  EXPECT_GT(result.best->value, 0.85) << "accuracy before training " << before;
  // The model holds the restored best state: evaluating it again gives the best score.
  EXPECT_DOUBLE_EQ(trainer.evaluate().value, result.best->value);
  EXPECT_EQ(ctx.progress_.last_done, result.steps);
  EXPECT_NE(ctx.progress_.last_status.find("loss="), std::string::npos);
  EXPECT_NE(ctx.progress_.last_status.find("lr="), std::string::npos);
}

TEST(Trainer, RestoresTheStateOfTheBestEvaluation) {
  ScriptedEvalTask task;
  task.scores = {0.40, 0.90, 0.60, 0.90};  // step 20 is best; the later tie does not replace it
  TestContext ctx(&task);
  auto args = fast_args();
  args.max_steps = 40;
  args.save_steps = 10;
  train::Trainer trainer(seeded_model(3), task, args, ctx);
  trainer.set_train_data(task.train);
  trainer.set_eval_data(task.eval);
  const auto result = trainer.train();
  ASSERT_EQ(task.snapshots.size(), 4u);  // steps 10, 20, 30, 40 (the end coincides with step 40)
  EXPECT_EQ(result.best_step, 20);
  EXPECT_DOUBLE_EQ(result.best->value, 0.90);
  const auto& best = task.snapshots[1];
  const auto& last = task.snapshots[3];
  bool differs_from_last = false;
  for (const auto& p : trainer.model()->named_parameters()) {
    EXPECT_TRUE(torch::equal(p.value(), best.at(p.key()))) << p.key();
    differs_from_last |= !torch::equal(p.value(), last.at(p.key()));
  }
  EXPECT_TRUE(differs_from_last);
}

TEST(Trainer, SameSeedGivesIdenticalWeightsAfterNSteps) {
  auto run = [](std::int64_t seed) {
    OrderTask task;
    TestContext ctx(&task, 1);
    auto args = fast_args();
    args.max_steps = 12;
    args.seed = seed;
    train::Trainer trainer(seeded_model(static_cast<std::uint64_t>(seed)), task, args, ctx);
    trainer.set_train_data(task.train);  // no eval split: the final weights are the trained ones
    trainer.train();
    return trainer.model();
  };
  auto a = run(7), b = run(7), c = run(8);
  bool differs = false;
  auto pc = c->named_parameters();
  for (const auto& p : a->named_parameters()) {
    EXPECT_TRUE(torch::equal(p.value(), b->named_parameters()[p.key()])) << p.key();
    differs |= !torch::equal(p.value(), pc[p.key()]);
  }
  EXPECT_TRUE(differs) << "another seed should train to other weights";
}

TEST(EpochOrder, ShufflesEveryEpochDeterministically) {
  train::EpochOrder a(10, 4, 5), b(10, 4, 5);
  std::vector<std::int64_t> first_epoch, second_epoch;
  for (int i = 0; i < 3; ++i) {
    auto x = a.next_batch();
    EXPECT_EQ(x, b.next_batch());
    first_epoch.insert(first_epoch.end(), x.begin(), x.end());
  }
  EXPECT_EQ(first_epoch.size(), 10u);  // 4 + 4 + 2: the last batch is partial
  for (int i = 0; i < 3; ++i) {
    auto x = a.next_batch();
    second_epoch.insert(second_epoch.end(), x.begin(), x.end());
  }
  EXPECT_EQ(a.epoch(), 2);
  auto s1 = first_epoch, s2 = second_epoch;
  std::sort(s1.begin(), s1.end());
  std::sort(s2.begin(), s2.end());
  EXPECT_EQ(s1, s2);                     // each epoch is a permutation
  EXPECT_NE(first_epoch, second_epoch);  // reshuffled
}

TEST(Trainer, StopsBetweenStepsWhenCancelled) {
  OrderTask task;
  TestContext ctx(&task);
  ctx.cancel = true;
  train::Trainer trainer(seeded_model(1), task, fast_args(), ctx);
  trainer.set_train_data(task.train);
  EXPECT_THROW(trainer.train(), Cancelled);
  EXPECT_EQ(trainer.optimizer().step(), 0);
}

TEST(WeightInit, FollowsBertInitialisation) {
  torch::manual_seed(0);
  nn::TaskModel model(train_test::tiny_config(), nn::TaskHead::SequenceClassification);
  train::init_bert_weights(*model, 0.02);
  EXPECT_TRUE(torch::equal(model->embeddings->LayerNorm->weight, torch::ones({32})));
  EXPECT_EQ(model->classifier->bias.abs().sum().item<double>(), 0.0);
  EXPECT_EQ(model->embeddings->word_embeddings->weight[0].abs().sum().item<double>(), 0.0);  // [PAD] row
  const double std = model->encoder->layer(0)->attention->self->query->weight.std().item<double>();
  EXPECT_NEAR(std, 0.02, 0.004);
}
