// Hugging Face's BertNormalizer + BertPreTokenizer in one pass: cleans, spaces out CJK
// ideographs, strips accents, lower-cases, then splits on whitespace and punctuation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace slimpipe::text {

struct NormalizerSettings {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  bool strip_accents = true;
  bool lowercase = true;
};

// Where a normalized byte came from: the original character's first byte and its index in
// code points. Characters that expand (é -> e + U+0301, İ -> i + U+0307) share one origin.
struct CharOrigin {
  std::uint32_t byte;
  std::uint32_t index;
};

// Normalized words of one text. Buffers are reused across calls to avoid reallocation.
struct PreTokenizedText {
  struct Word {
    std::uint32_t begin;  // byte range in `normalized`
    std::uint32_t end;
    std::uint32_t chars;  // length in code points (max_input_chars_per_word counts these)
  };

  std::string normalized;
  std::vector<CharOrigin> origin;  // one per byte of `normalized`
  std::vector<Word> words;

  void clear() {
    normalized.clear();
    origin.clear();
    words.clear();
  }
};

// Normalizes input[begin, end) and appends its words to `out`. `first_char_index` is the code
// point index of input[begin] in the whole input; returns the index just past `end`.
std::uint32_t pre_tokenize(std::string_view input, std::size_t begin, std::size_t end, std::uint32_t first_char_index,
                           const NormalizerSettings& settings, PreTokenizedText& out);

}  // namespace slimpipe::text
