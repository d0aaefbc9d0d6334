// Reading the real datasets in ../shared/data (absent on users' machines: the tests skip).
// Counts are the published sizes; every SQuAD answer span must verify against its context.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "sdk_data/temp_files.hpp"
#include "slimpipe/data/qa_reader.hpp"
#include "slimpipe/data/seq_cls_reader.hpp"
#include "slimpipe/data/token_cls_reader.hpp"

using namespace slimpipe::data;
namespace fs = std::filesystem;

namespace {
std::string shared(const std::string& rel) { return (fs::path(SLIMPIPE_SHARED_DATA_DIR) / rel).string(); }
}  // namespace

TEST(RealData, Sst2DevHas872Examples) {
  const auto path = shared("sst2/dev.tsv");
  if (!fs::exists(path)) GTEST_SKIP() << path << " is absent";
  SeqClsReadOptions o;
  o.labels = {"0", "1"};
  auto ds = read_seq_cls(path, o);
  EXPECT_EQ(ds.examples.size(), 872u);
  std::size_t positive = 0;
  for (const auto& ex : ds.examples) positive += ex.label == 1;
  EXPECT_EQ(positive, 444u);  // GLUE SST-2 dev: 444 positive, 428 negative
}

TEST(RealData, Conll2003TestaHas3250Sentences) {
  const auto path = shared("conll2003/eng.testa");
  if (!fs::exists(path)) GTEST_SKIP() << path << " is absent";
  TokenClsReadOptions o;
  o.tag_column = 3;
  o.labels = {"O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"};
  auto ds = read_token_cls(path, o);
  EXPECT_EQ(ds.examples.size(), 3250u);
  std::size_t words = 0;
  for (const auto& ex : ds.examples) words += ex.words.size();
  EXPECT_EQ(words, 51362u);
}

TEST(RealData, SquadDevHas10570QuestionsWithVerifiedSpans) {
  const auto zip = shared("squad_v1.1/dev-v1.1.json.zip");
  if (!fs::exists(zip)) GTEST_SKIP() << zip << " is absent";
  if (!fs::exists("/usr/bin/python3")) GTEST_SKIP() << "/usr/bin/python3 is needed to unzip";
  TempDir dir;
  const std::string cmd = "/usr/bin/python3 -m zipfile -e '" + zip + "' '" + dir.path("") + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto ds = read_qa(dir.path("dev-v1.1.json"));  // read_qa verifies every span or throws
  EXPECT_EQ(ds.examples.size(), 10570u);
  std::size_t answers = 0, shifted = 0;
  for (const auto& ex : ds.examples) {
    for (const auto& a : ex.answers) {
      ++answers;
      shifted += a.byte_start != a.char_start;  // non-ASCII text before the answer
      EXPECT_EQ(ex.context.compare(a.byte_start, a.text.size(), a.text), 0);
    }
  }
  EXPECT_EQ(answers, 34726u);
  EXPECT_GT(shifted, 0u);
}

TEST(RealData, Sst2TestHasIndexAndSentenceUnderAMisleadingHeader) {
  // The header says text\tlabel but the rows are index\tsentence: no labels at all.
  const auto path = shared("sst2/test.tsv");
  if (!fs::exists(path)) GTEST_SKIP() << path << " is absent";
  SeqClsReadOptions o;
  o.text_a_field = "label";
  o.label_field = "none";
  o.require_label = false;
  auto ds = read_seq_cls(path, o);
  EXPECT_EQ(ds.examples.size(), 1821u);
  EXPECT_EQ(ds.examples[0].text_a, "uneasy mishmash of styles and genres .");
  EXPECT_EQ(ds.examples[0].label, -1);
}
