// UTF-8 decoding, encoding and offset conversion used by the QA reader and the QA metrics.
// Strict decoding: a malformed byte is reported, never silently replaced, so offsets stay exact.
#include "slimpipe/data/utf8.hpp"

#include "slimpipe/error.hpp"
#include "text/utf8.hpp"

namespace slimpipe::data {

namespace {

// Length of the sequence starting at s[i] and its code point; 0 when malformed.
std::size_t decode_one(std::string_view s, std::size_t i, char32_t& cp) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  std::size_t len;
  char32_t min;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
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

bool utf8_valid(std::string_view s) {
  char32_t cp;
  for (std::size_t i = 0; i < s.size();) {
    std::size_t n = decode_one(s, i, cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

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
      throw Error("character offset " + std::to_string(char_offset) + " is past the end (" +
                  std::to_string(c) + " characters)");
    i += checked_step(s, i, cp);
  }
  return i;
}

std::size_t byte_to_char_offset(std::string_view s, std::size_t byte_offset) {
  if (byte_offset > s.size())
    throw Error("byte offset " + std::to_string(byte_offset) + " is past the end (" +
                std::to_string(s.size()) + " bytes)");
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
