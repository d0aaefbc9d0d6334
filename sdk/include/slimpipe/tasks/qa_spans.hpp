// The LibTorch-free half of extractive QA, shared by the qa task (featurize_qa, evaluation) and the runtime's
// Reader so that both cut the same windows and decode the same answers: a question and its context encoded as
// [CLS] question [SEP] context window [SEP] with overlapping windows (Hugging Face run_qa / PaddleNLP
// prepare_*_features), and the n-best span search over every window of an example (Hugging Face
// postprocess_qa_predictions, PaddleNLP compute_prediction, no null answer). Part of libslimpipe_text.so.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "slimpipe/export.hpp"
#include "slimpipe/text/encoding.hpp"

namespace slimpipe::text {
class WordPieceTokenizer;
}

namespace slimpipe::tasks {

struct QaFeatureOptions {
  std::size_t max_seq_length = 384;
  std::size_t doc_stride = 128;       // tokens shared by consecutive windows (HF's `stride`)
  std::size_t max_query_length = 64;  // the question is cut to this many tokens first
};

// Throws Error when max_query_length is 0 or doc_stride does not fit the window that max_seq_length leaves after
// the longest question (max_seq_length - max_query_length - 3).
SLIMPIPE_API void check_qa_feature_options(const QaFeatureOptions& options);

// What the span search needs of a window.
struct QaWindowLayout {
  // Token range [context_begin, context_end) holding this window of the context.
  std::int32_t context_begin = 0, context_end = 0;
  // Per token: byte span in the ORIGINAL context for context tokens, {0, 0} for the others.
  std::vector<text::Span> offsets;
};

struct QaWindow : QaWindowLayout {
  text::Encoding encoding;  // the window's tokens (ids, token types, code-point and byte offsets); no overflow
};

// Every window of one question and context, in order: the question cut to max_query_length tokens, then
// question + context with only_second truncation to max_seq_length and doc_stride overlap. Throws Error for bad
// options (check_qa_feature_options) or a pair the tokenizer cannot encode.
SLIMPIPE_API std::vector<QaWindow> qa_windows(const text::WordPieceTokenizer& tokenizer, std::string_view question,
                                              std::string_view context, const QaFeatureOptions& options);

struct QaDecodeOptions {
  std::size_t n_best_size = 20;        // start and end candidates taken from each window
  std::size_t max_answer_length = 30;  // in tokens
};

struct QaSpan {
  std::string text;  // empty when no window had a valid span
  double score = 0;  // start logit + end logit
  std::int64_t feature = -1;
  std::int32_t start_token = 0, end_token = 0;
  std::size_t byte_begin = 0, byte_end = 0;  // in the context
  bool found() const { return feature >= 0; }
};

// Best span of one example, fed window by window.
class SLIMPIPE_API QaAnswerDecoder {
 public:
  explicit QaAnswerDecoder(QaDecodeOptions options = {}) : options_(options) {}

  // Considers the top n_best_size start and end tokens of `window` (padding excluded), keeping
  // pairs inside the context with start <= end and end - start + 1 <= max_answer_length.
  // `start_logits` and `end_logits` hold at least window.offsets.size() values (one per token).
  void add_window(const QaWindowLayout& window, std::int64_t feature_index, const float* start_logits,
                  const float* end_logits);

  // The highest-scoring span so far, its text cut from `context` by the byte offsets.
  QaSpan best(std::string_view context) const;

 private:
  QaDecodeOptions options_;
  QaSpan best_;
};

}  // namespace slimpipe::tasks
