// Example-by-example evaluation (tasks/example_scores.hpp) of the three in-tree tasks: the per-example statistics
// give back the task's metric exactly (the corpus F1 of token_cls included), one prediction per example, and the
// logits at real positions only; batch sizes do not change any of it.
#include "slimpipe/tasks/example_scores.hpp"

#include <gtest/gtest.h>

#include "task_test_support.hpp"

using namespace tasktest;

namespace {

void expect_consistent(const std::string& name, const slimpipe::Json& params, std::int64_t max_seq,
                       std::int64_t examples) {
  auto task = make_task(name, params);
  const auto* scoring = dynamic_cast<const slimpipe::tasks::ExampleScoring*>(task.get());
  ASSERT_NE(scoring, nullptr) << name << " does not score example by example";
  const auto tok = synthetic_tokenizer();
  auto model = tiny_model(task->head(), static_cast<std::int64_t>(tok.vocab_size()));
  auto eval = task->features("eval", tok, max_seq);
  const auto e = scoring->evaluate_examples(*model, *eval, 5);
  const slimpipe::Metrics m = task->evaluate(*model, *eval, 5);
  EXPECT_DOUBLE_EQ(e.metrics.value, m.value) << name;
  EXPECT_NEAR(e.stats.value(), m.value, 1e-9) << name;
  EXPECT_EQ(e.stats.examples(), examples) << name;
  EXPECT_EQ(static_cast<std::int64_t>(e.predictions.size()), examples) << name;
  // Another batch size: same statistics, predictions and (up to float summation order) logits.
  const auto other = scoring->evaluate_examples(*model, *eval, 3);
  EXPECT_EQ(other.stats.values, e.stats.values) << name;
  EXPECT_EQ(other.predictions, e.predictions) << name;
  ASSERT_EQ(other.outputs.size(), e.outputs.size()) << name;
  for (std::size_t i = 0; i < e.outputs.size(); ++i)
    ASSERT_NEAR(other.outputs[i], e.outputs[i], 1e-4) << name << " " << i;
  EXPECT_DOUBLE_EQ(slimpipe::tasks::prediction_agreement(e.predictions, other.predictions), 1.0);
}

}  // namespace

TEST(ExampleScores, SeqClsStatisticsGiveAccuracyAndOneLogitRowPerExample) {
  expect_consistent("seq_cls", {{"source", "synthetic"}, {"synthetic_train_size", 8}, {"synthetic_eval_size", 30}}, 64,
                    30);
  auto task = make_task("seq_cls", {{"source", "synthetic"}, {"synthetic_train_size", 8}, {"synthetic_eval_size", 30}});
  const auto tok = synthetic_tokenizer();
  auto model = tiny_model(task->head(), static_cast<std::int64_t>(tok.vocab_size()));
  const auto e = dynamic_cast<const slimpipe::tasks::ExampleScoring&>(*task).evaluate_examples(
      *model, *task->features("eval", tok, 64), 7);
  EXPECT_EQ(e.outputs.size(), 30u * static_cast<std::size_t>(task->head().num_labels));
}

TEST(ExampleScores, TokenClsStatisticsGiveTheCorpusF1) {
  expect_consistent("token_cls", {{"source", "synthetic"}, {"synthetic_train_size", 4}, {"synthetic_eval_size", 25}},
                    64, 25);
}

TEST(ExampleScores, QaStatisticsGiveF1PerQuestion) {
  expect_consistent("qa",
                    {{"source", "synthetic"},
                     {"synthetic_train_size", 2},
                     {"synthetic_eval_size", 12},
                     {"max_seq_length", 64},
                     {"max_query_length", 16},
                     {"doc_stride", 16}},
                    0, 12);
}
