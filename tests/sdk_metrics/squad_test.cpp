// QA scoring against hand-derived values from the SQuAD v1.1, CMRC2018 and PaddleNLP scripts.
// Each case states the rule of the script it follows.
#include "slimpipe/metrics/squad.hpp"

#include <gtest/gtest.h>

#include "slimpipe/error.hpp"

using namespace slimpipe::metrics;
using Golds = std::vector<std::string>;

namespace {
QaAnswerScore squad(const std::string& pred, const Golds& golds) {
  return score_answer(pred, golds, QaScoring::SquadV11);
}
QaAnswerScore cmrc(const std::string& pred, const Golds& golds) {
  return score_answer(pred, golds, QaScoring::Cmrc2018);
}
QaAnswerScore paddle(const std::string& pred, const Golds& golds) {
  return score_answer(pred, golds, QaScoring::PaddleNlp);
}
}  // namespace

TEST(SquadNormalize, LowersDropsPunctuationArticlesAndExtraSpace) {
  EXPECT_EQ(squad_normalize("The  Eiffel Tower!"), "eiffel tower");
  EXPECT_EQ(squad_normalize("a, an; the"), "");
  EXPECT_EQ(squad_normalize("theatre and another"), "theatre and another");  // \b guards words
  EXPECT_EQ(squad_normalize("Rock 'n' Roll"), "rock n roll");
  EXPECT_EQ(squad_normalize("UNIVERSITÉ de Montréal"), "université de montréal");
  EXPECT_EQ(squad_normalize("New\u00a0York"), "new york");  // NBSP is whitespace to str.split
  EXPECT_EQ(squad_normalize("the–war"), "–war");            // en dash is not ASCII punctuation, but not \w
}

TEST(SquadScore, ArticlesAndCaseDoNotMatterForExactMatch) {
  auto s = squad("the Denver Broncos", {"Denver Broncos"});
  EXPECT_EQ(s.exact, 1.0);
  EXPECT_EQ(s.f1, 1.0);
}

TEST(SquadScore, PartialOverlapF1) {
  auto s = squad("Denver Broncos team", {"the Denver Broncos"});
  EXPECT_EQ(s.exact, 0.0);
  EXPECT_DOUBLE_EQ(s.f1, 0.8);  // P = 2/3, R = 1
  // Counter overlap: pred cat x3, gold cat x2 + sat -> 2 shared; P = R = 2/3.
  EXPECT_DOUBLE_EQ(squad("the the cat cat cat", {"cat sat cat"}).f1, 2.0 / 3.0);
}

TEST(SquadScore, NoOverlapIsZero) {
  auto s = squad("Carolina Panthers", {"Denver Broncos"});
  EXPECT_EQ(s.exact, 0.0);
  EXPECT_EQ(s.f1, 0.0);
  // Official v1.1 has no empty-answer special case: two empty normalizations match for EM
  // but share no token, so F1 is 0.
  auto e = squad("the", {"a"});
  EXPECT_EQ(e.exact, 1.0);
  EXPECT_EQ(e.f1, 0.0);
}

TEST(SquadScore, MaxOverGroundTruths) {
  auto s = squad("Broncos", {"Denver Broncos", "the Broncos", "Broncos of Denver"});
  EXPECT_EQ(s.exact, 1.0);
  EXPECT_EQ(s.f1, 1.0);
  auto t = squad("Denver", {"Denver Broncos", "Broncos of Denver"});
  EXPECT_DOUBLE_EQ(t.f1, 2 * 1.0 * 0.5 / 1.5);  // best: P = 1, R = 1/2
}

TEST(QaScorer, AveragesTimesHundred) {
  QaScorer scorer(QaScoring::SquadV11);
  scorer.add("Denver Broncos", {"Denver Broncos"});
  scorer.add("Denver Broncos team", {"Denver Broncos"});
  scorer.add("Panthers", {"Denver Broncos"});
  EXPECT_EQ(scorer.count(), 3u);
  EXPECT_NEAR(scorer.exact(), 100.0 / 3.0, 1e-12);
  EXPECT_NEAR(scorer.f1(), 60.0, 1e-12);
  EXPECT_THROW(scorer.add("x", {}), slimpipe::Error);
}

TEST(CmrcSegments, CjkCharactersAloneAndEnglishRunsAsWords) {
  EXPECT_EQ(cmrc_segments("北京 Olympic Games 2008年", true), (Golds{"北", "京", "olympic", "games", "2008", "年"}));
  EXPECT_EQ(cmrc_segments("《红楼梦》", false), (Golds{"《", "红", "楼", "梦", "》"}));
  EXPECT_EQ(cmrc_segments("《红楼梦》", true), (Golds{"红", "楼", "梦"}));
  EXPECT_EQ(cmrc_segments("约3.5亿", true), (Golds{"约", "3.5", "亿"}));
}

TEST(CmrcScore, PunctuationIsStrippedIncludingChinese) {
  EXPECT_EQ(cmrc_remove_punctuation(" 《红楼梦》。 "), "红楼梦");
  EXPECT_EQ(cmrc_remove_punctuation("好…"), "好…");  // the script lists "……" only, never one "…"
  auto s = cmrc("“你好”", {"你好"});
  EXPECT_EQ(s.exact, 1.0);
  EXPECT_EQ(s.f1, 1.0);
  EXPECT_EQ(cmrc("红楼 梦", {"红楼梦"}).exact, 0.0);  // EM does not touch inner whitespace
}

TEST(CmrcScore, F1UsesLongestCommonContiguousRun) {
  // Gold 北京大学 (4 segments), prediction 北京的大学 (5): the longest common run is 2, not the
  // 4 a bag of characters would give. P = 2/5, R = 2/4.
  auto s = cmrc("北京的大学", {"北京大学"});
  EXPECT_EQ(s.exact, 0.0);
  EXPECT_NEAR(s.f1, 2 * 0.4 * 0.5 / 0.9, 1e-15);
}

TEST(CmrcScore, MixedEnglishWordsCountAsOneSegment) {
  // Gold: iphone 手 机 (3); prediction: 苹 果 iphone 手 机 (5); run 3. P = 3/5, R = 1.
  EXPECT_DOUBLE_EQ(cmrc("苹果 iPhone 手机", {"iPhone 手机"}).f1, 0.75);
  EXPECT_EQ(cmrc("完全不同", {"北京"}).f1, 0.0);
}

TEST(PaddleScore, NormalizationAddsChinesePunctuation) {
  EXPECT_EQ(paddle_normalize("The 《Red》 Mansion。"), "red mansion");
}

TEST(PaddleScore, F1IsOverCharactersOfTheFirstToken) {
  // First tokens "denver" and "broncos" share n and r: P = 2/6, R = 2/7, F1 = 4/13.
  auto s = paddle("denver broncos", {"broncos"});
  EXPECT_EQ(s.exact, 0.0);
  EXPECT_NEAR(s.f1, 4.0 / 13.0, 1e-15);
  EXPECT_NEAR(paddle("北京大学", {"北京"}).f1, 2.0 / 3.0, 1e-15);
  EXPECT_EQ(paddle("", {""}).f1, 1.0);  // both empty: 1, as compute_f1's special case
}

TEST(QaLanguageDetect, ChineseWhenCjkDominates) {
  EXPECT_EQ(detect_qa_language("北京是中国的首都。"), QaLanguage::Zh);
  EXPECT_EQ(detect_qa_language("Paris is the capital of France."), QaLanguage::En);
  EXPECT_EQ(detect_qa_language("北京 Beijing"), QaLanguage::En);
  EXPECT_EQ(default_scoring(QaLanguage::Zh), QaScoring::Cmrc2018);
  EXPECT_THROW(qa_scoring_from_string("bleu"), slimpipe::Error);
}
