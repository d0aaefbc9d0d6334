// Text -> word-piece ids with offsets, without special-token insertion: splits out special
// tokens written in the text, pre-tokenizes the rest and runs greedy longest-match WordPiece.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "text/bert_pretokenizer.hpp"
#include "text/sequence_assembly.hpp"
#include "text/wordpiece_vocab.hpp"

namespace slimpipe::text {

class TextEncoder {
 public:
  struct SpecialToken {
    std::string text;
    std::int32_t id;
  };

  // `special_tokens` are matched verbatim in the raw text (HF added tokens, normalized=false).
  TextEncoder(const WordPieceVocab& vocab, NormalizerSettings settings, std::int32_t unk_id,
              std::size_t max_input_chars_per_word, std::vector<SpecialToken> special_tokens);

  // Replaces `out` with the pieces of `text`. `scratch` is reused between calls.
  void encode(std::string_view text, TokenSequence& out, PreTokenizedText& scratch) const;

 private:
  // Leftmost special token at or after `from`: its position, or npos; `match` gets its index.
  std::size_t find_special(std::string_view text, std::size_t from, std::size_t& match) const;
  void add_words(std::string_view text, const PreTokenizedText& words, TokenSequence& out) const;
  void add_word(std::string_view text, const PreTokenizedText& words, const PreTokenizedText::Word& word,
                TokenSequence& out) const;

  const WordPieceVocab& vocab_;
  NormalizerSettings settings_;
  std::int32_t unk_id_;
  std::size_t max_input_chars_per_word_;
  std::vector<SpecialToken> special_tokens_;  // longest first, so the longest match wins
  bool special_first_byte_[256] = {};
};

}  // namespace slimpipe::text
