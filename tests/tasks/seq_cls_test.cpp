// seq_cls through the plugin registry: configuration from synthetic data and files, pair token
// types, collation, label errors with file:line, loss and evaluation on a tiny model.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <thread>

#include "slimpipe/tasks/losses.hpp"
#include "task_test_support.hpp"

using namespace tasktest;
using slimpipe::Json;

TEST(SeqCls, SyntheticSourceGivesHeadVocabularyAndFeatures) {
  auto task =
      make_task("seq_cls", {{"source", "synthetic"}, {"synthetic_train_size", 40}, {"synthetic_eval_size", 12}});
  const slimpipe::HeadSpec head = task->head();
  EXPECT_EQ(head.head, slimpipe::nn::TaskHead::SequenceClassification);
  EXPECT_EQ(head.labels, (std::vector<std::string>{"negative", "neutral", "positive"}));
  EXPECT_EQ(head.num_labels, 3);
  EXPECT_EQ(task->vocabulary(), slimpipe::data::synthetic_vocabulary());

  const auto tok = synthetic_tokenizer();
  auto train = task->features("train", tok, 0);
  auto eval = task->features("eval", tok, 0);
  EXPECT_EQ(train->size(), 40);
  EXPECT_EQ(eval->size(), 12);
  // Cached per (split, vocabulary, length): the same object comes back; "calibration" is eval.
  EXPECT_EQ(task->features("train", tok, 0).get(), train.get());
  EXPECT_EQ(task->features("calibration", tok, 128).get(), eval.get());
  EXPECT_NE(task->features("train", tok, 16).get(), train.get());
  EXPECT_LE(task->features("train", tok, 16)->collate({0, 1, 2}).inputs.input_ids.size(1), 16);
  EXPECT_EQ(task->features("test", tok, 0)->size(), 500);  // synthetic_test_size's default
  EXPECT_NE(error_of([&] { task->features("dev", tok, 0); }).find("unknown split 'dev'"), std::string::npos);
}

TEST(SeqCls, ConcurrentCallersShareOneFeatureSet) {
  auto task =
      make_task("seq_cls", {{"source", "synthetic"}, {"synthetic_train_size", 300}, {"synthetic_eval_size", 4}});
  // Two tokenizer objects over the same vocabulary have one identity.
  const auto tok_a = synthetic_tokenizer();
  const auto tok_b = synthetic_tokenizer();
  std::vector<std::shared_ptr<const slimpipe::FeatureSet>> got(6);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < got.size(); ++i)
    threads.emplace_back([&, i] { got[i] = task->features("train", i % 2 ? tok_a : tok_b, 64); });
  for (auto& t : threads) t.join();
  for (const auto& g : got) EXPECT_EQ(g.get(), got[0].get());
  EXPECT_EQ(got[0]->size(), 300);
}

TEST(SeqCls, PairsGetTokenTypeOneOnTheSecondSegmentAndBatchesPadToTheLongest) {
  TempDir dir("seqcls-pairs");
  const std::string train = dir.write("train.tsv", "sentence1\tsentence2\tlabel\na b\tc\tyes\na\tb c d\tno\n");
  auto task = make_task("seq_cls", {{"train", train}});
  EXPECT_EQ(task->head().labels, (std::vector<std::string>{"yes", "no"}));
  EXPECT_TRUE(task->vocabulary().empty());
  const auto tok = hand_tokenizer({"a", "b", "c", "d"});  // a=5 b=6 c=7 d=8
  auto set = task->features("train", tok, 0);
  const slimpipe::Batch batch = collate_all(*set);
  // [CLS] a b [SEP] c [SEP] and [CLS] a [SEP] b c d [SEP], padded to 7 with [PAD] = 0.
  EXPECT_EQ(row(batch.inputs.input_ids, 0), (std::vector<std::int64_t>{2, 5, 6, 3, 7, 3, 0}));
  EXPECT_EQ(row(batch.inputs.token_type_ids, 0), (std::vector<std::int64_t>{0, 0, 0, 0, 1, 1, 0}));
  EXPECT_EQ(row(batch.inputs.attention_mask, 0), (std::vector<std::int64_t>{1, 1, 1, 1, 1, 1, 0}));
  EXPECT_EQ(row(batch.inputs.input_ids, 1), (std::vector<std::int64_t>{2, 5, 3, 6, 7, 8, 3}));
  EXPECT_EQ(row(batch.inputs.token_type_ids, 1), (std::vector<std::int64_t>{0, 0, 0, 1, 1, 1, 1}));
  EXPECT_EQ(batch.inputs.input_ids.scalar_type(), at::kLong);
  EXPECT_EQ(row(batch.targets.at("labels").unsqueeze(0), 0), (std::vector<std::int64_t>{0, 1}));
  EXPECT_EQ(batch.features, (std::vector<std::int64_t>{0, 1}));
  // A batch of the short one alone is only as long as it.
  EXPECT_EQ(set->collate({0}).inputs.input_ids.size(1), 6);
}

TEST(SeqCls, UnknownLabelInTheEvalFileNamesFileAndLine) {
  TempDir dir("seqcls-labels");
  const std::string train = dir.write("train.tsv", "text\tlabel\ngood\tpositive\nbad\tnegative\n");
  const std::string eval = dir.write("dev.tsv", "text\tlabel\nfine\tpositive\nmeh\tpositve\n");
  const std::string err = error_of([&] { make_task("seq_cls", {{"train", train}, {"eval", eval}}); });
  EXPECT_EQ(err, eval + ":3: unknown label 'positve' (labels: positive, negative)");
  // A fixed label list applies to the train file too.
  const std::string err2 = error_of([&] {
    make_task("seq_cls", {{"train", train}, {"labels", Json::array({"negative", "neutral"})}});
  });
  EXPECT_EQ(err2, train + ":2: unknown label 'positive' (labels: negative, neutral)");
}

TEST(SeqCls, ParameterErrorsNameTheParameter) {
  EXPECT_NE(error_of([] { make_task("seq_cls", Json::object()); }).find("needs train or eval"), std::string::npos);
  EXPECT_NE(error_of([] {
              make_task("seq_cls", {{"source", "synthetic"}, {"synthetic_train_size", 0}});
            }).find("synthetic_train_size must be at least 1"),
            std::string::npos);
  TempDir dir("seqcls-params");
  const std::string eval = dir.write("dev.tsv", "text\tlabel\ngood\tpositive\nbad\tnegative\n");
  auto task = make_task("seq_cls", {{"eval", eval}});
  EXPECT_EQ(task->head().labels, (std::vector<std::string>{"positive", "negative"}));
  EXPECT_NE(error_of([&] { task->features("train", synthetic_tokenizer(), 0); }).find("(train = \"...\")"),
            std::string::npos);
  const std::string one = dir.write("one.tsv", "text\tlabel\ngood\tpositive\n");
  EXPECT_NE(error_of([&] { make_task("seq_cls", {{"train", one}}); }).find("at least 2"), std::string::npos);
}

TEST(SeqCls, LossIsMeanCrossEntropy) {
  auto task = make_task("seq_cls", {{"source", "synthetic"}, {"synthetic_train_size", 4}, {"synthetic_eval_size", 4}});
  slimpipe::nn::EncoderOutput out;
  out.logits = at::tensor({0.0f, 1.0f, 2.0f, 1.0f, 1.0f, 1.0f}).reshape({2, 3});
  slimpipe::Batch batch;
  batch.targets["labels"] = at::tensor({2, 0}, at::kLong);
  // -log softmax: row 0 at label 2: log(1 + e^-1 + e^-2); row 1 uniform: log 3.
  const double expected = (std::log(1 + std::exp(-1.0) + std::exp(-2.0)) + std::log(3.0)) / 2;
  EXPECT_NEAR(task->loss(out, batch).item<double>(), expected, 1e-6);
  batch.targets.clear();
  EXPECT_NE(error_of([&] { task->loss(out, batch); }).find("no 'labels' target"), std::string::npos);
}

TEST(SeqCls, EvaluateOnATinyModelGivesAccuracyInRangeAndRestoresTrainMode) {
  auto task = make_task("seq_cls", {{"source", "synthetic"}, {"synthetic_train_size", 8}, {"synthetic_eval_size", 30}});
  const auto tok = synthetic_tokenizer();
  auto model = tiny_model(task->head(), static_cast<std::int64_t>(tok.vocab_size()));
  model->train();
  auto eval = task->features("eval", tok, 64);
  const slimpipe::Metrics m = task->evaluate(*model, *eval, 7);
  EXPECT_EQ(m.primary, "accuracy");
  EXPECT_GE(m.value, 0.0);
  EXPECT_LE(m.value, 100.0);
  EXPECT_EQ(m.all["examples"], 30);
  EXPECT_DOUBLE_EQ(m.all["accuracy"].get<double>(), m.value);
  EXPECT_GT(m.all["loss"].get<double>(), 0.0);
  EXPECT_TRUE(model->is_training());
  // The hook sees every Linear of every forward.
  int calls = 0;
  task->evaluate(*model, *eval, 30, [&](const std::string&, int, const at::Tensor& v) {
    ++calls;
    return v;
  });
  EXPECT_GT(calls, 0);
  EXPECT_NE(error_of([&] { task->evaluate(*model, *eval, 0); }).find("batch_size must be at least 1"),
            std::string::npos);
}
