// One-pass BertNormalizer + BertPreTokenizer with the order of Hugging Face's Rust code:
// clean_text, CJK spacing, strip accents (NFD, drop Mn), lower-case, then split.
#include "text/bert_pretokenizer.hpp"

#include "text/unicode_tables.hpp"
#include "text/utf8.hpp"

namespace slimpipe::text {
namespace {

constexpr char32_t kHangulFirst = 0xAC00, kHangulLast = 0xD7A3;

class WordSplitter {
 public:
  explicit WordSplitter(PreTokenizedText& out) : out_(out), word_begin_(size()) {}

  // Appends one normalized character: whitespace ends the word, punctuation is a word alone.
  void add(char32_t c, CharOrigin origin) {
    const std::uint8_t f = unicode::flags(c);
    if (f & unicode::kSpace) {
      close();
    } else if (f & unicode::kPunctuation) {
      close();
      append(c, origin);
      close();
    } else {
      append(c, origin);
    }
  }

  void close() {
    if (word_chars_ > 0) out_.words.push_back({word_begin_, size(), word_chars_});
    word_begin_ = size();
    word_chars_ = 0;
  }

 private:
  std::uint32_t size() const { return static_cast<std::uint32_t>(out_.normalized.size()); }

  void append(char32_t c, CharOrigin origin) {
    const std::size_t before = out_.normalized.size();
    utf8::append(out_.normalized, c);
    out_.origin.insert(out_.origin.end(), out_.normalized.size() - before, origin);
    ++word_chars_;
  }

  PreTokenizedText& out_;
  std::uint32_t word_begin_;
  std::uint32_t word_chars_ = 0;
};

// Lower-cases one character (Rust's char::to_lowercase: no final-sigma context) and adds it.
void add_lowered(WordSplitter& words, char32_t c, CharOrigin origin, bool lowercase) {
  if (lowercase) {
    if (c < 0x80) {
      words.add(c >= 'A' && c <= 'Z' ? c + 32 : c, origin);
      return;
    }
    if (unicode::flags(c) & unicode::kHasLower) {
      const auto* m = unicode::find_mapping(unicode::kLowercase, unicode::kLowercaseSize, c);
      for (std::uint8_t i = 0; i < m->length; ++i) words.add(unicode::kLowercasePool[m->offset + i], origin);
      return;
    }
  }
  words.add(c, origin);
}

// NFD without nonspacing marks, then lower-casing, for one original character.
void add_normalized(WordSplitter& words, char32_t c, std::uint8_t f, CharOrigin origin, const NormalizerSettings& s) {
  if (s.strip_accents) {
    if (f & unicode::kNonspacingMark) return;
    if (f & unicode::kHasStripped) {
      const auto* m = unicode::find_mapping(unicode::kStripAccents, unicode::kStripAccentsSize, c);
      for (std::uint8_t i = 0; i < m->length; ++i)
        add_lowered(words, unicode::kStripAccentsPool[m->offset + i], origin, s.lowercase);
      return;
    }
    if (c >= kHangulFirst && c <= kHangulLast) {
      // Hangul syllables decompose algorithmically into leading, vowel and trailing jamo.
      const char32_t index = c - kHangulFirst;
      words.add(0x1100 + index / 588, origin);
      words.add(0x1161 + (index % 588) / 28, origin);
      if (index % 28 != 0) words.add(0x11A7 + index % 28, origin);
      return;
    }
  }
  add_lowered(words, c, origin, s.lowercase);
}

}  // namespace

std::uint32_t pre_tokenize(std::string_view input, std::size_t begin, std::size_t end, std::uint32_t first_char_index,
                           const NormalizerSettings& settings, PreTokenizedText& out) {
  WordSplitter words(out);
  std::uint32_t char_index = first_char_index;
  std::size_t pos = begin;
  const std::string_view text = input.substr(0, end);
  while (pos < end) {
    const CharOrigin origin{static_cast<std::uint32_t>(pos), char_index++};
    const char32_t c = utf8::decode(text, pos);
    const std::uint8_t f = unicode::flags(c);
    if (settings.clean_text) {
      if (f & unicode::kDrop) continue;
      if (f & unicode::kSpace) {
        words.close();
        continue;
      }
    }
    if (settings.handle_chinese_chars && unicode::is_cjk_ideograph(c)) {
      // BertNormalizer puts spaces around the ideograph: it always is a word of its own.
      words.close();
      add_normalized(words, c, f, origin, settings);
      words.close();
      continue;
    }
    add_normalized(words, c, f, origin, settings);
  }
  words.close();
  return char_index;
}

}  // namespace slimpipe::text
