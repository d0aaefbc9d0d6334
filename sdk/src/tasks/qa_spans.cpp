// QA windows and span search without LibTorch (libslimpipe_text.so). Windows: the question cut to
// max_query_length tokens, then question + context encoded with only_second truncation and overflow windows.
// Span search: candidates are the top n_best_size start and end tokens of each window by logit (ties to the
// earlier token); pairs outside the context, reversed or too long are dropped, and the best start + end score over
// all windows wins, as Hugging Face and PaddleNLP decode.
#include "slimpipe/tasks/qa_spans.hpp"

#include <algorithm>
#include <numeric>

#include "slimpipe/error.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"

namespace slimpipe::tasks {
namespace {

// The question up to the end of its max_query_length-th token (the original BERT run_squad cuts
// the query first, so that a long question cannot crowd the context out of the window).
std::string_view cut_question(std::string_view question, const text::WordPieceTokenizer& tokenizer,
                              std::size_t max_query_length) {
  text::EncodeOptions plain;
  plain.add_special_tokens = false;
  const text::Encoding q = tokenizer.encode(question, plain);
  if (q.size() <= max_query_length) return question;
  return question.substr(0, q.byte_offsets[max_query_length - 1].end);
}

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

void check_qa_feature_options(const QaFeatureOptions& options) {
  if (options.max_query_length < 1) throw Error("qa features: max_query_length must be at least 1");
  if (options.max_seq_length < options.max_query_length + 3 + options.doc_stride + 1) {
    throw Error("qa features: doc_stride " + std::to_string(options.doc_stride) +
                " must be smaller than the context window left by max_seq_length " +
                std::to_string(options.max_seq_length) + " after a question of max_query_length " +
                std::to_string(options.max_query_length) +
                " and 3 special tokens; lower doc_stride or "
                "max_query_length, or raise max_seq_length");
  }
}

std::vector<QaWindow> qa_windows(const text::WordPieceTokenizer& tokenizer, std::string_view question,
                                 std::string_view context, const QaFeatureOptions& options) {
  check_qa_feature_options(options);
  text::EncodeOptions pair;
  pair.truncation = text::Truncation::OnlySecond;
  pair.max_length = options.max_seq_length;
  pair.stride = options.doc_stride;
  pair.return_overflowing_tokens = true;
  text::Encoding first =
      tokenizer.encode_pair(cut_question(question, tokenizer, options.max_query_length), context, pair);
  std::vector<QaWindow> windows(1 + first.overflowing.size());
  for (std::size_t i = 1; i < windows.size(); ++i) windows[i].encoding = std::move(first.overflowing[i - 1]);
  first.overflowing.clear();
  windows[0].encoding = std::move(first);
  for (QaWindow& w : windows) {
    const text::Encoding& e = w.encoding;
    w.offsets.assign(e.size(), text::Span{});
    bool seen = false;
    for (std::size_t t = 0; t < e.size(); ++t) {
      if (e.sequence_ids[t] != 1) continue;
      if (!seen) w.context_begin = static_cast<std::int32_t>(t);
      seen = true;
      w.context_end = static_cast<std::int32_t>(t) + 1;
      w.offsets[t] = e.byte_offsets[t];
    }
  }
  return windows;
}

void QaAnswerDecoder::add_window(const QaWindowLayout& window, std::int64_t feature_index, const float* start_logits,
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

QaSpan QaAnswerDecoder::best(std::string_view context) const {
  QaSpan out = best_;
  if (out.found() && out.byte_begin < out.byte_end && out.byte_end <= context.size())
    out.text = std::string(context.substr(out.byte_begin, out.byte_end - out.byte_begin));
  return out;
}

}  // namespace slimpipe::tasks
