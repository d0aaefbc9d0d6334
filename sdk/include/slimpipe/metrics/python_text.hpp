// The few Python str operations the reference metric scripts rely on, over code points:
// lower(), split(), strip(), and the \w test behind re's \b. Needed to match them byte for byte.
#pragma once

#include <string>
#include <vector>

#include "slimpipe/export.hpp"

namespace slimpipe::metrics::py {

// str.isspace(): ASCII whitespace, \x1c-\x1f, \x85, \xa0, U+1680, U+2000-U+200A, U+2028,
// U+2029, U+202F, U+205F, U+3000.
SLIMPIPE_API bool is_space(char32_t c);
// re's \w with UNICODE: ASCII letters, digits and _, and (approximately) every non-ASCII code
// point that is not whitespace, punctuation or a symbol in the common blocks.
SLIMPIPE_API bool is_word(char32_t c);
// str.lower() for ASCII, Latin-1, Latin Extended-A and Additional, Greek, Cyrillic and
// full-width Latin (the scripts that appear in SQuAD); other code points are unchanged.
SLIMPIPE_API std::u32string lower(std::u32string_view s);
SLIMPIPE_API std::vector<std::u32string> split(std::u32string_view s);
SLIMPIPE_API std::u32string strip(std::u32string_view s);
// CJK Unified Ideographs U+4E00-U+9FA5, the range the CMRC2018 script tests.
inline bool is_cmrc_cjk(char32_t c) { return c >= 0x4E00 && c <= 0x9FA5; }

}  // namespace slimpipe::metrics::py
