// Token-classification featurization: the words of a sentence are tokenized together, and each
// word's tag goes to its FIRST sub-word; other sub-words, [CLS], [SEP] and padding get -100.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "slimpipe/data/examples.hpp"
#include "slimpipe/export.hpp"
#include "slimpipe/tasks/collation.hpp"

namespace slimpipe::text {
class WordPieceTokenizer;
}

namespace slimpipe::tasks {

struct TokenClsFeature {
  EncodedFeature encoded;
  // Per token: the tag id of the word it starts, kIgnoreIndex for every other token.
  std::vector<std::int64_t> labels;
  // Per word: the index of its first token, or -1 when the word has no token in the feature
  // (it normalizes to nothing, e.g. a lone control character, or truncation cut it off).
  std::vector<std::int32_t> word_starts;
};

// One feature per example, truncated to max_seq_length. Words are joined with spaces and mapped
// back through the tokens' byte offsets, so a word that yields no token cannot shift the tags
// of the words after it. Throws Error "<source>:<line>: ..." when an example cannot be encoded.
SLIMPIPE_API std::vector<TokenClsFeature> featurize_token_cls(const data::TokenClsDataset& dataset,
                                                              const text::WordPieceTokenizer& tokenizer,
                                                              std::size_t max_seq_length);

}  // namespace slimpipe::tasks
