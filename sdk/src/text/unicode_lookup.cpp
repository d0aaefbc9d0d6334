// Look-ups into the generated Unicode tables (unicode_tables.cpp), kept out of the generated
// file so regenerating it never touches code.
#include <algorithm>

#include "text/unicode_tables.hpp"

namespace slimpipe::text::unicode {

const CodePointMapping* find_mapping(const CodePointMapping* table, std::size_t size, char32_t cp) {
  const CodePointMapping* end = table + size;
  const CodePointMapping* it =
      std::lower_bound(table, end, cp, [](const CodePointMapping& m, char32_t c) { return m.code_point < c; });
  return it != end && it->code_point == cp ? it : nullptr;
}

}  // namespace slimpipe::text::unicode
