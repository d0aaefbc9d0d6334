// Whitespace words with the tokenizer's own UTF-8 decoding and White_Space table.
#include "slimpipe/text/words.hpp"

#include "text/unicode_tables.hpp"
#include "text/utf8.hpp"

namespace slimpipe::text {

std::vector<Word> split_whitespace(std::string_view text) {
  std::vector<Word> words;
  bool in_word = false;
  std::size_t pos = 0, chars = 0;
  while (pos < text.size()) {
    const std::size_t begin = pos;
    const bool space = (unicode::flags(utf8::decode(text, pos)) & unicode::kSpace) != 0;
    if (space && in_word) {
      words.back().bytes.end = begin;
      words.back().chars.end = chars;
    } else if (!space && !in_word) {
      words.push_back({{begin, begin}, {chars, chars}});
    }
    in_word = !space;
    ++chars;
  }
  if (in_word) {
    words.back().bytes.end = text.size();
    words.back().chars.end = chars;
  }
  return words;
}

}  // namespace slimpipe::text
