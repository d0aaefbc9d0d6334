// Turning start/end logits back into answer text: n-best span search over every window of an
// example (Hugging Face postprocess_qa_predictions, PaddleNLP compute_prediction, no null answer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "slimpipe/export.hpp"
#include "slimpipe/tasks/qa_features.hpp"

namespace slimpipe::tasks {

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
  void add_window(const QaFeature& window, std::int64_t feature_index, const float* start_logits,
                  const float* end_logits);

  // The highest-scoring span so far, its text cut from `context` by the byte offsets.
  QaSpan best(const std::string& context) const;

 private:
  QaDecodeOptions options_;
  QaSpan best_;
};

}  // namespace slimpipe::tasks
