// Sequence-classification featurization: one feature per example, a single text or a pair
// ([CLS] a [SEP] b [SEP], token type 1 on b), truncated longest-first to max_seq_length.
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

struct SeqClsFeatures {
  std::vector<EncodedFeature> features;  // features[i] is examples[i]
  std::vector<std::int64_t> labels;      // the examples' label ids (-1 where unlabelled)
};

// Throws Error "<source>:<line>: ..." when the tokenizer cannot fit an example.
SLIMPIPE_API SeqClsFeatures featurize_seq_cls(const data::SeqClsDataset& dataset,
                                              const text::WordPieceTokenizer& tokenizer, std::size_t max_seq_length);

}  // namespace slimpipe::tasks
