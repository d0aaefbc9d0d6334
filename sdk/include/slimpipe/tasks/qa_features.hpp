// Extractive-QA featurization as Hugging Face run_qa / PaddleNLP prepare_*_features do it:
// [CLS] question [SEP] context window [SEP], long contexts cut into windows that overlap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "slimpipe/data/examples.hpp"
#include "slimpipe/export.hpp"
#include "slimpipe/tasks/collation.hpp"
#include "slimpipe/tasks/qa_spans.hpp"
#include "slimpipe/text/encoding.hpp"

namespace slimpipe::text {
class WordPieceTokenizer;
}

namespace slimpipe::tasks {

// One window (qa_windows, qa_spans.hpp: context_begin, context_end, offsets) as a model input row.
struct QaFeature : QaWindowLayout {
  EncodedFeature encoded;
  std::int64_t example = 0;  // index of its example in the dataset
  // Tokens of the first answer when it lies wholly inside this window, else (0, 0) = [CLS].
  std::int64_t start_position = 0, end_position = 0;
};

// Every window of every example, in example order. Examples without answers get (0, 0).
// Throws Error when doc_stride does not fit the window that max_seq_length leaves after the
// longest question (max_seq_length - max_query_length - 3), and "<source>:<line>: question
// '<id>': ..." when an example cannot be encoded.
SLIMPIPE_API std::vector<QaFeature> featurize_qa(const data::QaDataset& dataset,
                                                 const text::WordPieceTokenizer& tokenizer,
                                                 const QaFeatureOptions& options);

}  // namespace slimpipe::tasks
