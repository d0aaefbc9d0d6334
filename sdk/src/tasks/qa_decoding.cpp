// n-best span search. Candidates are the top n_best_size start and end tokens of each window by
// logit (ties to the earlier token); pairs outside the context, reversed or too long are dropped,
// and the best start + end score over all windows wins, as Hugging Face and PaddleNLP decode.
#include "slimpipe/tasks/qa_decoding.hpp"

#include <algorithm>
#include <numeric>
#include <vector>

namespace slimpipe::tasks {
namespace {

std::vector<std::int32_t> top_tokens(const float* logits, std::size_t length, std::size_t n) {
  std::vector<std::int32_t> order(length);
  std::iota(order.begin(), order.end(), 0);
  n = std::min(n, length);
  std::partial_sort(
      order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
      [&](std::int32_t a, std::int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
  order.resize(n);
  return order;
}

}  // namespace

void QaAnswerDecoder::add_window(const QaFeature& window, std::int64_t feature_index, const float* start_logits,
                                 const float* end_logits) {
  const std::size_t length = window.offsets.size();
  const auto in_context = [&](std::int32_t t) { return t >= window.context_begin && t < window.context_end; };
  const std::vector<std::int32_t> ends = top_tokens(end_logits, length, options_.n_best_size);
  for (std::int32_t s : top_tokens(start_logits, length, options_.n_best_size)) {
    if (!in_context(s)) continue;
    for (std::int32_t e : ends) {
      if (!in_context(e) || e < s || static_cast<std::size_t>(e - s + 1) > options_.max_answer_length) continue;
      const double score = static_cast<double>(start_logits[s]) + static_cast<double>(end_logits[e]);
      if (best_.found() && score <= best_.score) continue;  // the first of equal scores stays
      best_.score = score;
      best_.feature = feature_index;
      best_.start_token = s;
      best_.end_token = e;
      best_.byte_begin = window.offsets[static_cast<std::size_t>(s)].begin;
      best_.byte_end = window.offsets[static_cast<std::size_t>(e)].end;
    }
  }
}

QaSpan QaAnswerDecoder::best(const std::string& context) const {
  QaSpan out = best_;
  if (out.found() && out.byte_begin < out.byte_end && out.byte_end <= context.size())
    out.text = context.substr(out.byte_begin, out.byte_end - out.byte_begin);
  return out;
}

}  // namespace slimpipe::tasks
