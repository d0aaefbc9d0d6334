// Token-classification features. The sentence is encoded once (words joined by spaces) and
// every token is assigned to the word its byte offset falls in: BERT's pre-tokenizer splits at
// spaces, so this equals tokenizing word by word, at one call per sentence.
#include "slimpipe/tasks/token_cls_features.hpp"

#include <algorithm>

#include "slimpipe/error.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"

namespace slimpipe::tasks {

std::vector<TokenClsFeature> featurize_token_cls(const data::TokenClsDataset& dataset,
                                                 const text::WordPieceTokenizer& tokenizer,
                                                 std::size_t max_seq_length) {
  text::EncodeOptions options;
  options.truncation = text::Truncation::LongestFirst;
  options.max_length = max_seq_length;
  std::vector<TokenClsFeature> out;
  out.reserve(dataset.examples.size());
  std::string sentence;
  std::vector<std::size_t> word_begin;  // byte offset of each word in `sentence`
  for (const data::TokenClsExample& ex : dataset.examples) {
    sentence.clear();
    word_begin.clear();
    for (const std::string& w : ex.words) {
      if (!sentence.empty()) sentence += ' ';
      word_begin.push_back(sentence.size());
      sentence += w;
    }
    text::Encoding e;
    try {
      e = tokenizer.encode(sentence, options);
    } catch (const Error& err) {
      throw Error(dataset.source + ":" + std::to_string(ex.line) + ": " + err.what());
    }
    TokenClsFeature f;
    f.labels.assign(e.size(), kIgnoreIndex);
    f.word_starts.assign(ex.words.size(), -1);
    for (std::size_t t = 0; t < e.size(); ++t) {
      if (e.sequence_ids[t] != 0) continue;  // [CLS], [SEP]
      // The last word starting at or before the token's first byte. Empty words may share their
      // begin with the next word (at the start of a sentence); upper_bound picks the later one,
      // which is the word the token is in.
      const auto it = std::upper_bound(word_begin.begin(), word_begin.end(), e.byte_offsets[t].begin);
      const auto word = static_cast<std::size_t>(it - word_begin.begin()) - 1;
      if (f.word_starts[word] >= 0) continue;  // a later sub-word of the word
      f.word_starts[word] = static_cast<std::int32_t>(t);
      f.labels[t] = ex.tags[word];
    }
    f.encoded = {std::move(e.ids), std::move(e.token_type_ids)};
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace slimpipe::tasks
