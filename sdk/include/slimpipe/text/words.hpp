// Whitespace-separated words of a text, with byte and code-point offsets: the words a token-classification
// model tags (the token_cls task joins a sentence's words with spaces; its words are these). Whitespace is what
// the BERT pre-tokenizer splits at (Unicode White_Space), so no token ever spans two of these words.
#pragma once

#include <string_view>
#include <vector>

#include "slimpipe/export.hpp"
#include "slimpipe/text/encoding.hpp"

namespace slimpipe::text {

struct Word {
  Span bytes;  // byte range in the text
  Span chars;  // code-point range, counted as Encoding::offsets counts (an invalid byte is one code point)
};

// The maximal runs of non-whitespace characters of `text`, in order.
SLIMPIPE_API std::vector<Word> split_whitespace(std::string_view text);

}  // namespace slimpipe::text
