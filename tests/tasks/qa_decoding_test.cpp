// QA decoding on hand-built logits: the best span over windows, text cut from the original
// context, and max_answer_length / n_best_size changing the answer.
#include "slimpipe/tasks/qa_decoding.hpp"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

using slimpipe::tasks::QaAnswerDecoder;
using slimpipe::tasks::QaDecodeOptions;
using slimpipe::tasks::QaFeature;

namespace {

// "Aa Bb Cc Dd Ee" as 5 context tokens at positions 3..7 of a 9-token window:
// [CLS] q [SEP] Aa Bb Cc Dd Ee [SEP].
const std::string kContext = "Aa Bb Cc Dd Ee";

QaFeature window() {
  QaFeature f;
  f.context_begin = 3;
  f.context_end = 8;
  f.offsets.assign(9, {0, 0});
  for (std::size_t i = 0; i < 5; ++i) f.offsets[3 + i] = {3 * i, 3 * i + 2};
  return f;
}

struct Logits {
  at::Tensor start = at::full({9}, -10.0f);
  at::Tensor end = at::full({9}, -10.0f);
};

std::string decode(const Logits& l, QaDecodeOptions o = {}) {
  QaAnswerDecoder d(o);
  d.add_window(window(), 0, l.start.data_ptr<float>(), l.end.data_ptr<float>());
  return d.best(kContext).text;
}

}  // namespace

TEST(QaDecoding, BestValidSpanWinsAndQuestionTokensAreSkipped) {
  Logits l;
  l.start[1] = 20.0f;  // a question token: never a start
  l.end[0] = 20.0f;    // [CLS]: no null answer
  l.start[4] = 3.0f;   // Bb
  l.end[5] = 2.0f;     // Cc
  l.end[3] = 4.0f;     // Aa: before the start, so not with Bb
  QaAnswerDecoder d;
  d.add_window(window(), 7, l.start.data_ptr<float>(), l.end.data_ptr<float>());
  const slimpipe::tasks::QaSpan best = d.best(kContext);
  EXPECT_EQ(best.text, "Bb Cc");  // original casing and spacing
  EXPECT_EQ(best.feature, 7);
  EXPECT_EQ(best.start_token, 4);
  EXPECT_EQ(best.end_token, 5);
  EXPECT_FLOAT_EQ(static_cast<float>(best.score), 5.0f);
}

TEST(QaDecoding, MaxAnswerLengthChangesTheAnswer) {
  Logits l;
  l.start[3] = 5.0f;  // Aa
  l.end[7] = 5.5f;    // Ee: "Aa .. Ee" scores 10.5 but is 5 tokens
  l.start[6] = 4.0f;  // Dd
  EXPECT_EQ(decode(l), "Aa Bb Cc Dd Ee");
  QaDecodeOptions o;
  o.max_answer_length = 4;
  EXPECT_EQ(decode(l, o), "Dd Ee");  // 4 + 5.5
  o.max_answer_length = 1;
  EXPECT_EQ(decode(l, o), "Ee");  // -10 + 5.5 beats Aa's 5 - 10 and Dd's 4 - 10
}

TEST(QaDecoding, NBestSizeLimitsTheCandidates) {
  Logits l;
  l.start[6] = 5.0f;  // Dd: top start
  l.end[4] = 5.0f;    // Bb: top end, before Dd
  l.start[3] = 4.0f;  // Aa
  l.end[7] = 4.5f;    // Ee
  QaDecodeOptions o;
  o.n_best_size = 1;  // only (Dd, Bb): reversed, nothing valid
  EXPECT_EQ(decode(l, o), "");
  o.n_best_size = 2;  // (Dd, Ee) = 9.5 beats (Aa, Bb) = 9 and (Aa, Ee) = 8.5
  EXPECT_EQ(decode(l, o), "Dd Ee");
}

TEST(QaDecoding, BestSpanOverSeveralWindows) {
  Logits a, b;
  a.start[4] = 1.0f;
  a.end[4] = 1.0f;
  b.start[6] = 2.0f;
  b.end[6] = 2.0f;
  QaAnswerDecoder d;
  d.add_window(window(), 0, a.start.data_ptr<float>(), a.end.data_ptr<float>());
  d.add_window(window(), 1, b.start.data_ptr<float>(), b.end.data_ptr<float>());
  EXPECT_EQ(d.best(kContext).text, "Dd");
  EXPECT_EQ(d.best(kContext).feature, 1);
  EXPECT_FALSE(QaAnswerDecoder().best(kContext).found());
}
