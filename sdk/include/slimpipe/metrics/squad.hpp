// Extractive-QA scores: the official SQuAD v1.1 script (English), the official CMRC2018 script
// (Chinese), and PaddleNLP's squad_evaluate, which the compression API ranks checkpoints by.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "slimpipe/export.hpp"

namespace slimpipe::metrics {

enum class QaScoring {
  // SQuAD v1.1 evaluate-v1.1.py: normalize (lower, drop ASCII punctuation, drop a/an/the,
  // collapse whitespace), EM on the normalized strings, F1 on whitespace tokens (bag overlap).
  SquadV11,
  // CMRC2018 cmrc2018_evaluate.py: EM after lower-casing and removing its punctuation list (no
  // article or whitespace handling); F1 on "mixed segments" (each CJK character one segment,
  // other runs split into words) through the longest common contiguous run of segments.
  Cmrc2018,
  // PaddleNLP metrics/squad.py squad_evaluate(is_whitespace_splited=False): SQuAD normalization
  // plus the CMRC punctuation list; EM as SQuAD; F1 over the characters of the first whitespace
  // token only (its quirk, kept for bit-exact comparison).
  PaddleNlp,
};

enum class QaLanguage { En, Zh };

SLIMPIPE_API QaScoring qa_scoring_from_string(const std::string& name);    // squad, cmrc, paddlenlp
SLIMPIPE_API QaLanguage qa_language_from_string(const std::string& name);  // en, zh
// Zh when CJK ideographs outnumber all other letters and digits in `context`.
SLIMPIPE_API QaLanguage detect_qa_language(std::string_view context);
// En -> SquadV11, Zh -> Cmrc2018.
SLIMPIPE_API QaScoring default_scoring(QaLanguage language);

// The normalizations, exposed for tests and for debugging a disagreement.
SLIMPIPE_API std::string squad_normalize(std::string_view text);
SLIMPIPE_API std::string cmrc_remove_punctuation(std::string_view text);
SLIMPIPE_API std::vector<std::string> cmrc_segments(std::string_view text, bool remove_punctuation);
SLIMPIPE_API std::string paddle_normalize(std::string_view text);

// One prediction against its gold answers: each score in [0, 1], the max over the answers.
struct QaAnswerScore {
  double exact = 0;
  double f1 = 0;
};
SLIMPIPE_API QaAnswerScore score_answer(const std::string& prediction, const std::vector<std::string>& golds,
                                        QaScoring scoring);

// Accumulates questions; exact() and f1() are averages x 100, as the official scripts print.
class SLIMPIPE_API QaScorer {
 public:
  explicit QaScorer(QaScoring scoring) : scoring_(scoring) {}
  QaAnswerScore add(const std::string& prediction, const std::vector<std::string>& golds);
  std::size_t count() const { return count_; }
  double exact() const { return count_ ? 100.0 * exact_sum_ / static_cast<double>(count_) : 0.0; }
  double f1() const { return count_ ? 100.0 * f1_sum_ / static_cast<double>(count_) : 0.0; }

 private:
  QaScoring scoring_;
  std::size_t count_ = 0;
  double exact_sum_ = 0, f1_sum_ = 0;
};

}  // namespace slimpipe::metrics
