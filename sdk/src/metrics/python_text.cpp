// Python str semantics (lower, split, strip, \w) over UTF-32, for the QA metric ports.
// Tables cover the scripts seen in SQuAD/CMRC; elsewhere they fall back to "unchanged"/"word".
#include "slimpipe/metrics/python_text.hpp"

namespace slimpipe::metrics::py {

bool is_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_word(char32_t c) {
  if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  if (is_space(c)) return false;
  if (c <= 0xBF) {  // Latin-1 punctuation and symbols; ª ² ³ µ ¹ º ¼ ½ ¾ are alphanumeric
    return c == 0xAA || c == 0xB2 || c == 0xB3 || c == 0xB5 || c == 0xB9 || c == 0xBA || (c >= 0xBC && c <= 0xBE);
  }
  if (c == 0xD7 || c == 0xF7) return false;      // × ÷
  if (c >= 0x2010 && c <= 0x2BFF) return false;  // general punctuation, currency, arrows, math, shapes
  if (c >= 0x2E00 && c <= 0x2E7F) return false;  // supplemental punctuation
  if (c >= 0x3001 && c <= 0x3004) return false;  // 、。〃〄
  if (c >= 0x3008 && c <= 0x3020) return false;  // CJK brackets and marks
  if (c >= 0xFE30 && c <= 0xFE4F) return false;  // CJK compatibility forms
  if ((c >= 0xFF01 && c <= 0xFF0F) || (c >= 0xFF1A && c <= 0xFF20) || (c >= 0xFF3B && c <= 0xFF40) ||
      (c >= 0xFF5B && c <= 0xFF65))
    return false;                                  // full-width punctuation
  if (c >= 0x1F000 && c <= 0x1FAFF) return false;  // emoji and pictographs
  return true;
}

namespace {

void lower_one(char32_t c, std::u32string& out) {
  if ((c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7)) return out.push_back(c + 32);
  if (c == 0x130) {  // İ lowers to i + combining dot above
    out.push_back('i');
    return out.push_back(0x307);
  }
  if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177) || (c >= 0x1E00 && c <= 0x1E95) ||
      (c >= 0x1EA0 && c <= 0x1EFF))
    return out.push_back(c % 2 == 0 ? c + 1 : c);
  if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return out.push_back(c % 2 == 1 ? c + 1 : c);
  if (c == 0x178) return out.push_back(0xFF);
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return out.push_back(c + 32);
  if (c == 0x386) return out.push_back(0x3AC);
  if (c >= 0x388 && c <= 0x38A) return out.push_back(c + 37);
  if (c == 0x38C) return out.push_back(0x3CC);
  if (c == 0x38E || c == 0x38F) return out.push_back(c + 63);
  if (c >= 0x400 && c <= 0x40F) return out.push_back(c + 80);
  if (c >= 0x410 && c <= 0x42F) return out.push_back(c + 32);
  if (c >= 0xFF21 && c <= 0xFF3A) return out.push_back(c + 32);
  out.push_back(c);
}

}  // namespace

std::u32string lower(std::u32string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (char32_t c : s) lower_one(c, out);
  return out;
}

std::vector<std::u32string> split(std::u32string_view s) {
  std::vector<std::u32string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i])) ++i;
    const std::size_t start = i;
    while (i < s.size() && !is_space(s[i])) ++i;
    if (i > start) out.emplace_back(s.substr(start, i - start));
  }
  return out;
}

std::u32string strip(std::u32string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return std::u32string(s.substr(b, e - b));
}

}  // namespace slimpipe::metrics::py
