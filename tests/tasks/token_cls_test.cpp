// token_cls: word tags aligned to first sub-words (hand-made vocabulary), words without tokens,
// truncation, collation padding, file errors, the ignore_index loss and evaluation.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "slimpipe/tasks/token_cls_features.hpp"
#include "task_test_support.hpp"

using namespace tasktest;
using slimpipe::Json;
using slimpipe::tasks::kIgnoreIndex;

namespace {

// un=5 ##aff=6 ##able=7 new=8 york=9 is=10 big=11
const std::vector<std::string> kPieces{"un", "##aff", "##able", "new", "york", "is", "big"};

slimpipe::data::TokenClsDataset sentence(std::vector<std::string> words, std::vector<std::int64_t> tags) {
  slimpipe::data::TokenClsDataset d;
  d.source = "hand";
  d.examples.push_back({std::move(words), std::move(tags), 1});
  return d;
}

}  // namespace

TEST(TokenClsFeatures, TagGoesToTheFirstSubWordAndEverythingElseIsIgnored) {
  const auto tok = hand_tokenizer(kPieces);
  // O=0 B-LOC=1 I-LOC=2. The zero-width space normalizes to nothing: it must not shift "york".
  const auto f = slimpipe::tasks::featurize_token_cls(
      sentence({"unaffable", "new", "\u200b", "york", "is", "big"}, {0, 1, 0, 2, 0, 0}), tok, 128);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].encoded.input_ids, (std::vector<std::int32_t>{2, 5, 6, 7, 8, 9, 10, 11, 3}));
  EXPECT_EQ(f[0].labels,
            (std::vector<std::int64_t>{kIgnoreIndex, 0, kIgnoreIndex, kIgnoreIndex, 1, 2, 0, 0, kIgnoreIndex}));
  EXPECT_EQ(f[0].word_starts, (std::vector<std::int32_t>{1, 4, -1, 5, 6, 7}));
}

TEST(TokenClsFeatures, EmptyFirstWordAndTruncatedWordsHaveNoStart) {
  const auto tok = hand_tokenizer(kPieces);
  const auto f = slimpipe::tasks::featurize_token_cls(sentence({"", "new", "unaffable", "york"}, {0, 1, 0, 2}), tok, 4);
  // [CLS] new un [SEP]: "unaffable" starts at 2 though its other pieces were cut, "york" is gone.
  EXPECT_EQ(f[0].encoded.input_ids, (std::vector<std::int32_t>{2, 8, 5, 3}));
  EXPECT_EQ(f[0].labels, (std::vector<std::int64_t>{kIgnoreIndex, 1, 0, kIgnoreIndex}));
  EXPECT_EQ(f[0].word_starts, (std::vector<std::int32_t>{-1, 1, 2, -1}));
}

TEST(TokenCls, FileFeaturesCollateWithIgnoredPaddingAndSpecials) {
  TempDir dir("tokcls-files");
  const std::string train =
      dir.write("train.jsonl",
                "{\"tokens\": [\"new\", \"york\", \"is\", \"unaffable\"], \"labels\": [\"B-LOC\", "
                "\"I-LOC\", \"O\", \"O\"]}\n"
                "{\"tokens\": [\"big\"], \"labels\": [\"O\"]}\n");
  auto task = make_task("token_cls", {{"train", train}});
  EXPECT_EQ(task->head().head, slimpipe::nn::TaskHead::TokenClassification);
  EXPECT_EQ(task->head().labels, (std::vector<std::string>{"B-LOC", "I-LOC", "O"}));
  EXPECT_EQ(task->head().num_labels, 3);
  const auto tok = hand_tokenizer(kPieces);
  const slimpipe::Batch b = collate_all(*task->features("train", tok, 0));
  const at::Tensor& labels = b.targets.at("labels");
  ASSERT_EQ(labels.sizes(), (c10::IntArrayRef{2, 8}));
  EXPECT_EQ(row(labels, 0), (std::vector<std::int64_t>{-100, 0, 1, 2, 2, -100, -100, -100}));
  EXPECT_EQ(row(labels, 1), (std::vector<std::int64_t>{-100, 2, -100, -100, -100, -100, -100, -100}));
  EXPECT_EQ(row(b.inputs.attention_mask, 1), (std::vector<std::int64_t>{1, 1, 1, 0, 0, 0, 0, 0}));
}

TEST(TokenCls, UnknownTagAndSchemeErrors) {
  TempDir dir("tokcls-errors");
  const std::string train = dir.write("train.conll", "Paris NNP B-LOC\nis VBZ O\n\nBob NNP B-PER\n");
  const std::string eval = dir.write("dev.conll", "Rome NNP B-LOC\n\nAnn NNP B-PRS\n");
  EXPECT_EQ(error_of([&] {
              make_task("token_cls", {{"train", train}, {"eval", eval}});
            }),
            eval + ":3: unknown label 'B-PRS' (labels: B-LOC, O, B-PER)");
  const std::string bioes = dir.write("bioes.conll", "Paris S-LOC\n");
  EXPECT_NE(error_of([&] {
              make_task("token_cls", {{"train", bioes}, {"strict", true}});
            }).find("tag 'S-LOC' does not fit scheme = \"bio\" with strict = true"),
            std::string::npos);
  EXPECT_NO_THROW(make_task("token_cls", {{"train", bioes}, {"strict", true}, {"scheme", "bioes"}}));
  EXPECT_NE(error_of([] {
              make_task("token_cls", {{"source", "synthetic"}, {"labels", Json::array({"O"})}});
            }).find("remove labels"),
            std::string::npos);
}

TEST(TokenCls, LossSkipsIgnoredPositions) {
  auto task =
      make_task("token_cls", {{"source", "synthetic"}, {"synthetic_train_size", 2}, {"synthetic_eval_size", 2}});
  slimpipe::nn::EncoderOutput out;
  // [1, 3, 2]: only position 1 (label 1) counts; its logits are (0, ln 3): -log(3/4).
  out.logits = at::tensor({5.0f, -5.0f, 0.0f, std::log(3.0f), -7.0f, 7.0f}).reshape({1, 3, 2});
  slimpipe::Batch batch;
  batch.targets["labels"] = at::tensor(std::vector<std::int64_t>{kIgnoreIndex, 1, kIgnoreIndex}).reshape({1, 3});
  EXPECT_NEAR(task->loss(out, batch).item<double>(), -std::log(0.75), 1e-6);
}

TEST(TokenCls, EvaluateOnATinyModelGivesF1InRange) {
  auto task =
      make_task("token_cls", {{"source", "synthetic"}, {"synthetic_train_size", 4}, {"synthetic_eval_size", 25}});
  const auto tok = synthetic_tokenizer();
  auto model = tiny_model(task->head(), static_cast<std::int64_t>(tok.vocab_size()));
  const slimpipe::Metrics m = task->evaluate(*model, *task->features("eval", tok, 64), 8);
  EXPECT_EQ(m.primary, "f1");
  EXPECT_GE(m.value, 0.0);
  EXPECT_LE(m.value, 100.0);
  EXPECT_EQ(m.all["sentences"], 25);
  EXPECT_GT(m.all["gold_entities"].get<int>(), 0);
  for (const char* k : {"precision", "recall"}) {
    EXPECT_GE(m.all[k].get<double>(), 0.0);
    EXPECT_LE(m.all[k].get<double>(), 100.0);
  }
}

TEST(TokenCls, SyntheticContextOptionsReachTheGeneratorAndAreChecked) {
  const auto tok = synthetic_tokenizer();
  auto eval_ids = [&](Json params) {
    params["source"] = "synthetic";
    params["synthetic_train_size"] = 2;
    params["synthetic_eval_size"] = 20;
    auto features = make_task("token_cls", params)->features("eval", tok, 64);
    std::vector<std::int64_t> all(static_cast<std::size_t>(features->size()));
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::int64_t>(i);
    return features->collate(all).inputs.input_ids;
  };
  const at::Tensor original = eval_ids(Json::object());
  EXPECT_TRUE(original.equal(eval_ids({{"synthetic_context_rate", 0.3}, {"synthetic_context_gap", 0}})));
  EXPECT_FALSE(original.equal(eval_ids({{"synthetic_context_rate", 1.0}})));
  const at::Tensor gapped = eval_ids({{"synthetic_context_gap", 4}});
  EXPECT_FALSE(original.sizes() == gapped.sizes() && original.equal(gapped));

  EXPECT_EQ(error_of([] {
              make_task("token_cls", {{"source", "synthetic"}, {"synthetic_context_rate", 1.5}});
            }),
            "[task] token_cls: synthetic_context_rate must be in [0, 1], got 1.5");
  EXPECT_EQ(error_of([] {
              make_task("token_cls", {{"source", "synthetic"}, {"synthetic_context_gap", -1}});
            }),
            "[task] token_cls: synthetic_context_gap must be in [0, 8], got -1");
}
