// Character classes and mappings the BERT normalizer needs, without ICU. The tables are
// generated from Python's unicodedata by gen_unicode_tables.py (see that script for each flag).
#pragma once

#include <cstddef>
#include <cstdint>

namespace slimpipe::text::unicode {

enum CharFlag : std::uint8_t {
  kDrop = 1,         // removed by clean_text: NUL, U+FFFD, C* except \t \n \r
  kSpace = 2,        // White_Space
  kPunctuation = 4,  // ASCII punctuation ranges or P*
  kNonspacingMark = 8,
  kHasStripped = 16,  // NFD without Mn differs from the character (not Hangul)
  kHasLower = 32,     // lower-casing changes the character
};

// One entry of a sparse mapping: code point -> pool[offset, offset + length).
struct CodePointMapping {
  std::uint32_t code_point;
  std::uint16_t offset;
  std::uint8_t length;
};

extern const char* const kUnicodeVersion;
extern const std::uint16_t kBlockIndex[0x110000 / 256];
extern const std::uint8_t kBlocks[][256];
extern const std::uint32_t kStripAccentsPool[];
extern const CodePointMapping kStripAccents[];
extern const std::size_t kStripAccentsSize;
extern const std::uint32_t kLowercasePool[];
extern const CodePointMapping kLowercase[];
extern const std::size_t kLowercaseSize;

inline std::uint8_t flags(char32_t cp) {
  if (cp >= 0x110000) return kDrop;
  return kBlocks[kBlockIndex[cp >> 8]][cp & 0xFF];
}

// The CJK ideograph ranges of Hugging Face tokenizers' BertNormalizer (Rust). Python's slow
// BertTokenizer has 0x2B820 where Rust has 0x2B920; we follow the fast tokenizer.
inline bool is_cjk_ideograph(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

// Binary search of a sparse mapping; nullptr when `cp` has no entry.
const CodePointMapping* find_mapping(const CodePointMapping* table, std::size_t size, char32_t cp);

}  // namespace slimpipe::text::unicode
