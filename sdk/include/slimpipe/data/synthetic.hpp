// Deterministic synthetic datasets for the three tasks, and the vocabulary that covers them.
// Same (size, seed) gives the same examples everywhere; rules are documented in docs/data.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "slimpipe/data/examples.hpp"
#include "slimpipe/export.hpp"

namespace slimpipe::data {

// Sentiment with negation, intensifiers and "but" contrast; labels negative, neutral, positive;
// `label_noise` of the examples get a different label at random, so no model can reach 100%.
SLIMPIPE_API SeqClsDataset synthetic_seq_cls(std::size_t size, std::uint64_t seed, double label_noise = 0.05);

// NER-like sentences with PER/LOC/ORG/MISC gazetteers in IOB2; some words belong to several
// classes (or none) and only the surrounding words decide. Labels: O, B-PER, I-PER, B-LOC,
// I-LOC, B-ORG, I-ORG, B-MISC, I-MISC.
SLIMPIPE_API TokenClsDataset synthetic_token_cls(std::size_t size, std::uint64_t seed);

// Short contexts of 4-6 facts ("ana reyes works at blue harbor .") and a question about one of
// them; other facts of the same relation are present as distractors. One answer per question.
SLIMPIPE_API QaDataset synthetic_qa(std::size_t size, std::uint64_t seed);

// The words each generator can emit (lower-case ASCII whole words and . , ? tokens).
SLIMPIPE_API std::vector<std::string> synthetic_seq_cls_words();
SLIMPIPE_API std::vector<std::string> synthetic_token_cls_words();
SLIMPIPE_API std::vector<std::string> synthetic_qa_words();

// Splits phrases at spaces and keeps each word once, in order of first appearance.
SLIMPIPE_API std::vector<std::string> unique_words(const std::vector<std::string>& phrases);

// [PAD] [UNK] [CLS] [SEP] [MASK], then every word of all three generators once, in a fixed
// order: written one per line it is a vocab.txt that WordPiece maps word-for-word.
SLIMPIPE_API std::vector<std::string> synthetic_vocabulary();
// Writes synthetic_vocabulary() to `path`, one token a line. Throws Error when it cannot.
SLIMPIPE_API void write_synthetic_vocab(const std::string& path);

}  // namespace slimpipe::data
