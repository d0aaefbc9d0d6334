// What the tokenizer returns: model inputs (ids, token types, attention mask) plus the offsets
// that map each token back to the original text, and the options that shape them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "slimpipe/export.hpp"

namespace slimpipe::text {

// Hugging Face's truncation strategies. LongestFirst follows the fast (Rust) tokenizer: with a
// pair the shorter sequence keeps min(len, max/2) tokens and the longer one takes the rest.
enum class Truncation { None, LongestFirst, OnlyFirst, OnlySecond };

enum class Padding {
  None,
  Longest,    // to the longest feature of the call (a batch, or one text and its overflow)
  MaxLength,  // to EncodeOptions::max_length
};

struct SLIMPIPE_API EncodeOptions {
  bool add_special_tokens = true;  // [CLS] a [SEP] (b [SEP])
  Truncation truncation = Truncation::None;
  std::size_t max_length = 0;  // 0: the tokenizer's model_max_length
  // Tokens shared by consecutive overflow windows of the truncated text (HF's `stride`; the
  // SQuAD scripts pass doc_stride = 128 here).
  std::size_t stride = 0;
  bool return_overflowing_tokens = false;
  Padding padding = Padding::None;
  std::size_t pad_to_multiple_of = 0;  // 0: no rounding
};

// Half-open span [begin, end) in the original input.
struct Span {
  std::size_t begin = 0;
  std::size_t end = 0;
  bool operator==(const Span& other) const { return begin == other.begin && end == other.end; }
  bool operator!=(const Span& other) const { return !(*this == other); }
};

// One feature (one model input row). Special and padding tokens have empty spans {0, 0} and
// sequence id -1, as Hugging Face's offset_mapping and sequence_ids() report them.
struct SLIMPIPE_API Encoding {
  std::vector<std::int32_t> ids;
  std::vector<std::int32_t> token_type_ids;
  std::vector<std::int32_t> attention_mask;
  std::vector<std::int32_t> special_tokens_mask;  // 1 for [CLS], [SEP] and padding
  std::vector<std::int8_t> sequence_ids;          // 0 first text, 1 second text, -1 none
  // Code-point offsets in the original text (what Hugging Face returns for a Python str).
  std::vector<Span> offsets;
  // Byte offsets in the original UTF-8 text.
  std::vector<Span> byte_offsets;
  // The further windows when EncodeOptions::return_overflowing_tokens is set.
  std::vector<Encoding> overflowing;

  std::size_t size() const { return ids.size(); }
};

// A batch flattened the way Hugging Face's fast tokenizers return it with overflow: every
// window of every example is one feature; overflow_to_sample_mapping gives its example index.
struct SLIMPIPE_API BatchEncoding {
  std::vector<Encoding> features;  // each with an empty `overflowing`
  std::vector<std::size_t> overflow_to_sample_mapping;
};

}  // namespace slimpipe::text
