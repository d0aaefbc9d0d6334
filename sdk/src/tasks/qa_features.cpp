// QA features: the windows of qa_windows (qa_spans.hpp, shared with the runtime's Reader), each with the first
// answer located in it.
#include "slimpipe/tasks/qa_features.hpp"

#include <string>

#include "slimpipe/error.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"

namespace slimpipe::tasks {
namespace {

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
  check_qa_feature_options(options);
  std::vector<QaFeature> out;
  for (std::size_t i = 0; i < dataset.examples.size(); ++i) {
    const data::QaExample& ex = dataset.examples[i];
    std::vector<QaWindow> windows;
    try {
      windows = qa_windows(tokenizer, ex.question, ex.context, options);
    } catch (const Error& err) {
      throw Error(dataset.source + ":" + std::to_string(ex.line) + ": question '" + ex.id + "': " + err.what());
    }
    for (QaWindow& w : windows) {
      QaFeature f;
      f.example = static_cast<std::int64_t>(i);
      f.context_begin = w.context_begin;
      f.context_end = w.context_end;
      f.offsets = std::move(w.offsets);
      if (!ex.answers.empty()) {
        const data::QaAnswer& a = ex.answers.front();
        locate_answer(f, a.byte_start, a.byte_start + a.text.size());
      }
      f.encoded = {std::move(w.encoding.ids), std::move(w.encoding.token_type_ids)};
      out.push_back(std::move(f));
    }
  }
  return out;
}

}  // namespace slimpipe::tasks
