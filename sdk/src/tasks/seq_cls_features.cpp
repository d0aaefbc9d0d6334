// Sequence-classification features: the tokenizer's single/pair encoding with longest-first
// truncation, as Hugging Face run_glue and PaddleNLP's convert_example call it.
#include "slimpipe/tasks/seq_cls_features.hpp"

#include "slimpipe/error.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"

namespace slimpipe::tasks {

SeqClsFeatures featurize_seq_cls(const data::SeqClsDataset& dataset, const text::WordPieceTokenizer& tokenizer,
                                 std::size_t max_seq_length) {
  text::EncodeOptions options;
  options.truncation = text::Truncation::LongestFirst;
  options.max_length = max_seq_length;
  SeqClsFeatures out;
  out.features.reserve(dataset.examples.size());
  out.labels.reserve(dataset.examples.size());
  for (const data::SeqClsExample& ex : dataset.examples) {
    text::Encoding e;
    try {
      e = ex.text_b ? tokenizer.encode_pair(ex.text_a, *ex.text_b, options) : tokenizer.encode(ex.text_a, options);
    } catch (const Error& err) {
      throw Error(dataset.source + ":" + std::to_string(ex.line) + ": " + err.what());
    }
    out.features.push_back({std::move(e.ids), std::move(e.token_type_ids)});
    out.labels.push_back(ex.label);
  }
  return out;
}

}  // namespace slimpipe::tasks
