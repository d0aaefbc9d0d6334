// UTF-8 decoding, encoding and offset conversion used by the QA reader and the QA metrics.
// Strict decoding: a malformed byte is reported, never silently replaced, so offsets stay exact.
#include "slimpipe/data/utf8.hpp"

#include "slimpipe/error.hpp"
#include "text/utf8.hpp"

namespace slimpipe::data {

namespace {

// Length of the sequence starting at s[i] and its code point; 0 when malformed. The tokenizer's decoder
// (text/utf8.hpp) replaces a malformed byte by U+FFFD and steps one byte; a real U+FFFD is 3 bytes long.
std::size_t decode_one(std::string_view s, std::size_t i, char32_t& cp) {
  std::size_t pos = i;
  cp = text::utf8::decode(s, pos);
  const std::size_t len = pos - i;
  if (cp == text::utf8::kReplacement && len != 3) return 0;
  return len;
}

std::size_t checked_step(std::string_view s, std::size_t i, char32_t& cp) {
  std::size_t n = decode_one(s, i, cp);
  if (n == 0) throw Error("invalid UTF-8 at byte " + std::to_string(i));
  return n;
}

}  // namespace

std::u32string utf8_decode(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  char32_t cp;
  for (std::size_t i = 0; i < s.size();) {
    i += checked_step(s, i, cp);
    out.push_back(cp);
  }
  return out;
}

// One encoder for the SDK: the tokenizer's inline one.
void utf8_append(std::string& out, char32_t cp) { text::utf8::append(out, cp); }

std::string utf8_encode(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t cp : s) utf8_append(out, cp);
  return out;
}

std::size_t utf8_first_invalid(std::string_view s) {
  char32_t cp;
  for (std::size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {  // ASCII fast path
      ++i;
      continue;
    }
    std::size_t n = decode_one(s, i, cp);
    if (n == 0) return i;
    i += n;
  }
  return std::string_view::npos;
}

bool utf8_valid(std::string_view s) { return utf8_first_invalid(s) == std::string_view::npos; }

std::size_t utf8_length(std::string_view s) {
  std::size_t count = 0;
  char32_t cp;
  for (std::size_t i = 0; i < s.size(); i += checked_step(s, i, cp)) ++count;
  return count;
}

std::size_t char_to_byte_offset(std::string_view s, std::size_t char_offset) {
  std::size_t i = 0;
  char32_t cp;
  for (std::size_t c = 0; c < char_offset; ++c) {
    if (i >= s.size())
      throw Error("character offset " + std::to_string(char_offset) + " is past the end (" + std::to_string(c) +
                  " characters)");
    i += checked_step(s, i, cp);
  }
  return i;
}

std::size_t byte_to_char_offset(std::string_view s, std::size_t byte_offset) {
  if (byte_offset > s.size())
    throw Error("byte offset " + std::to_string(byte_offset) + " is past the end (" + std::to_string(s.size()) +
                " bytes)");
  std::size_t count = 0;
  char32_t cp;
  for (std::size_t i = 0; i < s.size();) {
    std::size_t n = checked_step(s, i, cp);
    if (byte_offset < i + n) return count;
    i += n;
    ++count;
  }
  return count;
}

std::vector<std::size_t> char_byte_offsets(std::string_view s) {
  std::vector<std::size_t> offsets;
  offsets.reserve(s.size() + 1);
  char32_t cp;
  for (std::size_t i = 0; i < s.size(); i += checked_step(s, i, cp)) offsets.push_back(i);
  offsets.push_back(s.size());
  return offsets;
}

}  // namespace slimpipe::data
