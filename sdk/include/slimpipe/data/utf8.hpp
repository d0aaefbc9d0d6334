// UTF-8 decoding and code-point <-> byte offset conversion.
// SQuAD/CMRC `answer_start` counts code points (Python str indices); our strings hold UTF-8 bytes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "slimpipe/export.hpp"

namespace slimpipe::data {

// Decodes strict UTF-8; throws Error("invalid UTF-8 at byte N") on malformed input.
SLIMPIPE_API std::u32string utf8_decode(std::string_view s);
SLIMPIPE_API std::string utf8_encode(std::u32string_view s);
SLIMPIPE_API void utf8_append(std::string& out, char32_t cp);
// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF).
SLIMPIPE_API bool utf8_valid(std::string_view s);
// Byte offset of the first malformed sequence in `s`; std::string_view::npos when it is well formed.
// The same decoder as the tokenizer's (text/utf8.hpp), strict instead of replacing.
SLIMPIPE_API std::size_t utf8_first_invalid(std::string_view s);

// Number of code points.
SLIMPIPE_API std::size_t utf8_length(std::string_view s);
// Byte offset of code point `char_offset`; char_offset == length gives s.size(). Throws Error when
// char_offset is past the end.
SLIMPIPE_API std::size_t char_to_byte_offset(std::string_view s, std::size_t char_offset);
// Code point index of the character containing byte `byte_offset` (byte_offset == s.size() gives
// the length). Throws Error when past the end.
SLIMPIPE_API std::size_t byte_to_char_offset(std::string_view s, std::size_t byte_offset);
// offsets[i] = byte offset of code point i, plus offsets[length] = s.size(): for many lookups
// into one context.
SLIMPIPE_API std::vector<std::size_t> char_byte_offsets(std::string_view s);

}  // namespace slimpipe::data
