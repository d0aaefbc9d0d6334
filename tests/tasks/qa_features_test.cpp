// QA featurization: doc-stride windows on a hand-made vocabulary, the answer's token positions
// in each window (or [CLS]), offsets that spell the answer, question truncation, window errors.
#include "slimpipe/tasks/qa_features.hpp"

#include <gtest/gtest.h>

#include "slimpipe/data/synthetic.hpp"
#include "task_test_support.hpp"

using namespace tasktest;
using slimpipe::tasks::QaFeature;
using slimpipe::tasks::QaFeatureOptions;

namespace {

// Context "aa bb cc ... tt": 20 one-token words, each 2 bytes and a space.
std::vector<std::string> letter_words() {
  std::vector<std::string> w;
  for (char c = 'a'; c <= 't'; ++c) w.push_back(std::string(2, c));
  return w;
}

slimpipe::text::WordPieceTokenizer letter_tokenizer() {
  std::vector<std::string> pieces = letter_words();
  pieces.push_back("who");  // id 25
  pieces.push_back("?");    // id 26
  return hand_tokenizer(pieces);
}

slimpipe::data::QaDataset one_question(const std::string& question, const std::string& answer) {
  std::string context;
  for (const std::string& w : letter_words()) context += (context.empty() ? "" : " ") + w;
  slimpipe::data::QaDataset d;
  d.source = "hand.json";
  slimpipe::data::QaExample ex;
  ex.id = "q1";
  ex.question = question;
  ex.context = context;
  slimpipe::data::QaAnswer a;
  a.text = answer;
  a.byte_start = context.find(answer);
  a.char_start = a.byte_start;
  ex.answers.push_back(a);
  ex.line = 1;
  d.examples.push_back(ex);
  return d;
}

std::string span_text(const QaFeature& f, const std::string& context, std::int64_t s, std::int64_t e) {
  const auto& o = f.offsets;
  return context.substr(o[static_cast<std::size_t>(s)].begin,
                        o[static_cast<std::size_t>(e)].end - o[static_cast<std::size_t>(s)].begin);
}

}  // namespace

TEST(QaFeatures, StrideWindowsPlaceTheAnswerInEveryWindowThatHoldsIt) {
  const auto data = one_question("who ?", "mm nn");  // context tokens 12 and 13
  QaFeatureOptions o;
  o.max_seq_length = 14;   // [CLS] who ? [SEP] + 9 context tokens + [SEP]
  o.doc_stride = 4;        // windows start at context tokens 0, 5, 10, 15
  o.max_query_length = 2;  // "who ?" fits exactly
  const std::vector<QaFeature> f = slimpipe::tasks::featurize_qa(data, letter_tokenizer(), o);
  ASSERT_EQ(f.size(), 4u);
  const std::int64_t expected_start[] = {0, 4 + 12 - 5, 4 + 12 - 10, 0};
  for (std::size_t i = 0; i < f.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(f[i].example, 0);
    EXPECT_EQ(f[i].context_begin, 4);
    EXPECT_EQ(f[i].encoded.input_ids[0], 2);
    EXPECT_EQ(f[i].encoded.input_ids[1], 25);
    EXPECT_EQ(f[i].start_position, expected_start[i]);
    EXPECT_EQ(f[i].end_position, expected_start[i] ? expected_start[i] + 1 : 0);
    if (expected_start[i]) {
      EXPECT_EQ(span_text(f[i], data.examples[0].context, f[i].start_position, f[i].end_position), "mm nn");
    }
    // The last token is [SEP]; question and specials have no context offsets.
    EXPECT_EQ(f[i].encoded.input_ids.back(), 3);
    EXPECT_EQ(static_cast<std::size_t>(f[i].context_end), f[i].encoded.size() - 1);
    EXPECT_EQ(f[i].offsets[1], (slimpipe::text::Span{0, 0}));
    EXPECT_EQ(f[i].encoded.token_type_ids[4], 1);
    EXPECT_EQ(f[i].encoded.token_type_ids[3], 0);
  }
  EXPECT_EQ(f[0].encoded.size(), 14u);
  EXPECT_EQ(f[3].encoded.size(), 4u + 5u + 1u);  // the last window: context tokens 15..19
  // Window 2 starts at context token 10 ("kk"): its first context offset is bytes 30..32.
  EXPECT_EQ(f[2].offsets[4], (slimpipe::text::Span{30, 32}));
}

TEST(QaFeatures, AnswerAtTheLastContextTokenAndQuestionTruncation) {
  const auto data = one_question("who aa bb cc dd ee ?", "tt");
  QaFeatureOptions o;
  o.max_seq_length = 40;
  o.doc_stride = 8;
  o.max_query_length = 2;  // "who aa"
  const std::vector<QaFeature> f = slimpipe::tasks::featurize_qa(data, letter_tokenizer(), o);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].context_begin, 4);  // [CLS] who aa [SEP]
  EXPECT_EQ(f[0].context_end, 24);
  EXPECT_EQ(f[0].start_position, 23);
  EXPECT_EQ(f[0].end_position, 23);
}

TEST(QaFeatures, StrideThatCannotFitIsAnError) {
  QaFeatureOptions o;
  o.max_seq_length = 128;
  o.max_query_length = 64;
  o.doc_stride = 61;  // window 128 - 64 - 3 = 61
  const std::string err =
      error_of([&] { slimpipe::tasks::featurize_qa(one_question("who ?", "aa"), letter_tokenizer(), o); });
  EXPECT_NE(err.find("doc_stride 61 must be smaller"), std::string::npos) << err;
}

TEST(QaFeatures, SyntheticAnswersAreSpelledByTheirOffsets) {
  const auto data = slimpipe::data::synthetic_qa(60, 5);
  QaFeatureOptions o;
  o.max_seq_length = 48;  // short windows, so that some contexts overflow
  o.doc_stride = 8;
  o.max_query_length = 16;
  const std::vector<QaFeature> f = slimpipe::tasks::featurize_qa(data, synthetic_tokenizer(), o);
  EXPECT_GT(f.size(), data.examples.size());
  std::vector<int> found(data.examples.size(), 0);
  for (const QaFeature& w : f) {
    if (w.start_position == 0) continue;
    const auto& ex = data.examples[static_cast<std::size_t>(w.example)];
    EXPECT_EQ(span_text(w, ex.context, w.start_position, w.end_position), ex.answers[0].text);
    ++found[static_cast<std::size_t>(w.example)];
  }
  for (std::size_t i = 0; i < found.size(); ++i) EXPECT_GE(found[i], 1) << "example " << i;
}
