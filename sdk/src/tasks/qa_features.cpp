// QA features: question cut to max_query_length tokens, then question + context encoded with
// only_second truncation and overflow windows, and the first answer located in each window.
#include "slimpipe/tasks/qa_features.hpp"

#include <string>

#include "slimpipe/error.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"

namespace slimpipe::tasks {
namespace {

// The question up to the end of its max_query_length-th token (the original BERT run_squad cuts
// the query first, so that a long question cannot crowd the context out of the window).
std::string_view cut_question(const std::string& question, const text::WordPieceTokenizer& tokenizer,
                              std::size_t max_query_length) {
  text::EncodeOptions plain;
  plain.add_special_tokens = false;
  const text::Encoding q = tokenizer.encode(question, plain);
  if (q.size() <= max_query_length) return question;
  return std::string_view(question).substr(0, q.byte_offsets[max_query_length - 1].end);
}

// Token indices of the answer bytes [begin, end) in `f`, or (0, 0) when the window does not
// hold all of it (Hugging Face prepare_train_features, without its overrun at the last token).
void locate_answer(QaFeature& f, std::size_t begin, std::size_t end) {
  const auto first = f.context_begin, last = f.context_end - 1;
  if (first > last || f.offsets[first].begin > begin || f.offsets[last].end < end) return;
  std::int32_t s = first;
  while (s + 1 <= last && f.offsets[s + 1].begin <= begin) ++s;
  std::int32_t e = last;
  while (e - 1 >= first && f.offsets[e - 1].end >= end) --e;
  f.start_position = s;
  f.end_position = e;
}

}  // namespace

std::vector<QaFeature> featurize_qa(const data::QaDataset& dataset, const text::WordPieceTokenizer& tokenizer,
                                    const QaFeatureOptions& options) {
  if (options.max_query_length < 1) throw Error("qa features: max_query_length must be at least 1");
  if (options.max_seq_length < options.max_query_length + 3 + options.doc_stride + 1) {
    throw Error("qa features: doc_stride " + std::to_string(options.doc_stride) +
                " must be smaller than the context window left by max_seq_length " +
                std::to_string(options.max_seq_length) + " after a question of max_query_length " +
                std::to_string(options.max_query_length) +
                " and 3 special tokens; lower doc_stride or "
                "max_query_length, or raise max_seq_length");
  }
  text::EncodeOptions pair;
  pair.truncation = text::Truncation::OnlySecond;
  pair.max_length = options.max_seq_length;
  pair.stride = options.doc_stride;
  pair.return_overflowing_tokens = true;

  std::vector<QaFeature> out;
  for (std::size_t i = 0; i < dataset.examples.size(); ++i) {
    const data::QaExample& ex = dataset.examples[i];
    text::Encoding first;
    try {
      first = tokenizer.encode_pair(cut_question(ex.question, tokenizer, options.max_query_length), ex.context, pair);
    } catch (const Error& err) {
      throw Error(dataset.source + ":" + std::to_string(ex.line) + ": question '" + ex.id + "': " + err.what());
    }
    std::vector<text::Encoding> windows;
    windows.push_back(std::move(first));
    for (text::Encoding& w : windows.front().overflowing) windows.push_back(std::move(w));
    windows.front().overflowing.clear();

    for (text::Encoding& w : windows) {
      QaFeature f;
      f.example = static_cast<std::int64_t>(i);
      f.offsets.assign(w.size(), text::Span{});
      bool seen = false;
      for (std::size_t t = 0; t < w.size(); ++t) {
        if (w.sequence_ids[t] != 1) continue;
        if (!seen) f.context_begin = static_cast<std::int32_t>(t);
        seen = true;
        f.context_end = static_cast<std::int32_t>(t) + 1;
        f.offsets[t] = w.byte_offsets[t];
      }
      if (!ex.answers.empty()) {
        const data::QaAnswer& a = ex.answers.front();
        locate_answer(f, a.byte_start, a.byte_start + a.text.size());
      }
      f.encoded = {std::move(w.ids), std::move(w.token_type_ids)};
      out.push_back(std::move(f));
    }
  }
  return out;
}

}  // namespace slimpipe::tasks
