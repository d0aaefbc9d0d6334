// Real files from ../shared/data with the bert-base-uncased vocabulary: SST-2 dev and CoNLL-2003
// testa become features without error and with the expected counts. Skipped when absent.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "task_test_support.hpp"

using namespace tasktest;

namespace {

std::string shared(const std::string& rel) { return (fs::path(SLIMPIPE_SHARED_DATA_DIR) / rel).string(); }

bool have(const std::vector<std::string>& rels) {
  for (const auto& r : rels)
    if (!fs::exists(shared(r))) return false;
  return true;
}

const char* kVocab = "vocab/bert-base-uncased/vocab.txt";

}  // namespace

TEST(RealData, Sst2DevFeaturizesWithBertBaseUncased) {
  if (!have({"sst2/dev.tsv", kVocab})) GTEST_SKIP() << "../shared/data is absent";
  auto task = make_task("seq_cls", {{"eval", shared("sst2/dev.tsv")}});
  EXPECT_EQ(task->head().labels, (std::vector<std::string>{"1", "0"}));  // in order of appearance
  const auto tok = slimpipe::text::WordPieceTokenizer::from_files(shared(kVocab));
  auto set = task->features("eval", tok, 128);
  EXPECT_EQ(set->size(), 872);
  const slimpipe::Batch b = collate_all(*set);
  EXPECT_LE(b.inputs.input_ids.size(1), 128);
  EXPECT_EQ(b.targets.at("labels").eq(1).sum().item<std::int64_t>(), 428);  // label "0" has id 1
  // "it 's a charming and often affecting journey ." -> 10 pieces + [CLS] [SEP].
  EXPECT_EQ(b.inputs.attention_mask[0].sum().item<std::int64_t>(), 12);
}

TEST(RealData, Conll2003TestaFeaturizesWithBertBaseUncased) {
  if (!have({"conll2003/eng.testa", kVocab})) GTEST_SKIP() << "../shared/data is absent";
  auto task = make_task("token_cls", {{"eval", shared("conll2003/eng.testa")}});
  EXPECT_EQ(task->head().num_labels, 9);
  const auto tok = slimpipe::text::WordPieceTokenizer::from_files(shared(kVocab));
  auto set = task->features("eval", tok, 512);
  EXPECT_EQ(set->size(), 3250);
  // At 512 tokens no sentence is cut, so every word's first sub-word carries its tag: 51,362 words.
  const slimpipe::Batch b = collate_all(*set);
  EXPECT_EQ(b.targets.at("labels").ne(-100).sum().item<std::int64_t>(), 51362);
}
