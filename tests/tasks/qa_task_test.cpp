// qa through the plugin registry: synthetic and file configuration, collated positions, file
// and parameter errors, the span loss and evaluation on a tiny model.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "task_test_support.hpp"

using namespace tasktest;
using slimpipe::Json;

namespace {

const char* kSquad = R"({"version": "1.1", "data": [{"title": "t", "paragraphs": [
{"context": "the capital of mora is lune .", "qas": [
  {"id": "q1", "question": "what is the capital of mora ?", "answers": [{"text": "lune", "answer_start": 23}]}]}]}]}
)";

}  // namespace

TEST(Qa, SyntheticSourceGivesHeadAndFeaturesWithPositions) {
  auto task = make_task("qa", {{"source", "synthetic"},
                               {"synthetic_train_size", 20},
                               {"synthetic_eval_size", 10},
                               {"max_query_length", 16},
                               {"doc_stride", 8}});
  EXPECT_EQ(task->head().head, slimpipe::nn::TaskHead::QuestionAnswering);
  EXPECT_EQ(task->head().num_labels, 2);
  EXPECT_FALSE(task->vocabulary().empty());
  const auto tok = synthetic_tokenizer();
  auto train = task->features("train", tok, 0);
  EXPECT_EQ(train->num_examples(), 20);
  EXPECT_GE(train->size(), 20);
  const slimpipe::Batch b = collate_all(*train);
  const at::Tensor starts = b.targets.at("start_positions");
  const at::Tensor ends = b.targets.at("end_positions");
  EXPECT_EQ(starts.size(0), train->size());
  // Synthetic contexts fit 128 tokens: every window holds its answer, after the question.
  EXPECT_TRUE(starts.gt(0).all().item<bool>());
  EXPECT_TRUE(ends.ge(starts).all().item<bool>());
  // A short max_seq_length makes several windows per example.
  EXPECT_GT(task->features("train", tok, 40)->size(), 20);
}

TEST(Qa, FilesConfigureAndBadAnswersNameTheQuestion) {
  TempDir dir("qa-files");
  const std::string eval = dir.write("dev.json", kSquad);
  auto task = make_task("qa", {{"eval", eval}});
  EXPECT_TRUE(task->vocabulary().empty());
  const auto tok = synthetic_tokenizer();
  auto set = task->features("eval", tok, 0);
  ASSERT_EQ(set->size(), 1);
  // [CLS] what is the capital of mora ? [SEP] the capital of mora is lune . [SEP]: "lune" is 14.
  const slimpipe::Batch b = set->collate({0});
  EXPECT_EQ(b.targets.at("start_positions").item<std::int64_t>(), 14);
  EXPECT_EQ(b.targets.at("end_positions").item<std::int64_t>(), 14);

  std::string bad = kSquad;
  bad.replace(bad.find("\"answer_start\": 23"), 18, "\"answer_start\": 22");
  const std::string bad_path = dir.write("bad.json", bad);
  const std::string err = error_of([&] { make_task("qa", {{"eval", bad_path}}); });
  EXPECT_EQ(err.rfind(bad_path + ":3:", 0), 0u) << err;
  EXPECT_NE(err.find("question 'q1'"), std::string::npos) << err;
}

TEST(Qa, WindowParametersAreChecked) {
  EXPECT_NE(error_of([] {
              make_task("qa", {{"source", "synthetic"}, {"doc_stride", 128}});
            })
                .find("doc_stride 128 must be smaller than the context window max_seq_length - max_query_length - 3 "
                      "= 128 - 64 - 3 = 61"),
            std::string::npos);
  EXPECT_NO_THROW(make_task("qa", {{"source", "synthetic"}, {"doc_stride", 128}, {"max_seq_length", 384}}));
  auto task = make_task("qa", {{"source", "synthetic"}, {"synthetic_train_size", 2}});
  EXPECT_NE(error_of([&] { task->features("train", synthetic_tokenizer(), 80); }).find("doc_stride 32"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              make_task("qa", {{"source", "synthetic"}, {"n_best_size", 0}});
            }).find("n_best_size must be at least 1"),
            std::string::npos);
}

TEST(Qa, LossAveragesStartAndEndCrossEntropy) {
  auto task = make_task("qa", {{"source", "synthetic"}, {"synthetic_train_size", 2}, {"synthetic_eval_size", 2}});
  slimpipe::nn::EncoderOutput out;
  out.start_logits = at::zeros({2, 3});                                                      // CE at 1: log 3 per row
  out.end_logits = at::tensor({0.0f, std::log(2.0f), 0.0f}).reshape({1, 3}).repeat({2, 1});  // CE at 1: log 2
  slimpipe::Batch batch;
  batch.targets["start_positions"] = at::tensor(std::vector<std::int64_t>{1, 1});
  batch.targets["end_positions"] = at::tensor(std::vector<std::int64_t>{1, 1});
  EXPECT_NEAR(task->loss(out, batch).item<double>(), (std::log(3.0) + std::log(2.0)) / 2, 1e-6);
  // A position past the sequence is clamped to s and ignored (transformers' rule); row 1's end
  // logits are changed so that counting them would show.
  out.end_logits[1][1] = -30.0f;
  batch.targets["end_positions"] = at::tensor(std::vector<std::int64_t>{1, 7});
  EXPECT_NEAR(task->loss(out, batch).item<double>(), (std::log(3.0) + std::log(2.0)) / 2, 1e-6);
}

TEST(Qa, EvaluateOnATinyModelGivesEmAndF1InRange) {
  auto task = make_task("qa", {{"source", "synthetic"},
                               {"synthetic_train_size", 2},
                               {"synthetic_eval_size", 12},
                               {"max_seq_length", 64},
                               {"max_query_length", 16},
                               {"doc_stride", 16}});
  const auto tok = synthetic_tokenizer();
  auto model = tiny_model(task->head(), static_cast<std::int64_t>(tok.vocab_size()));
  auto eval = task->features("eval", tok, 0);
  const slimpipe::Metrics m = task->evaluate(*model, *eval, 5);
  EXPECT_EQ(m.primary, "f1");
  EXPECT_GE(m.value, 0.0);
  EXPECT_LE(m.value, 100.0);
  EXPECT_GE(m.all["exact_match"].get<double>(), 0.0);
  EXPECT_LE(m.all["exact_match"].get<double>(), m.value + 1e-9);
  EXPECT_EQ(m.all["examples"], 12);
  EXPECT_EQ(m.all["features"], eval->size());
  EXPECT_TRUE(m.all.contains("no_span"));
}
