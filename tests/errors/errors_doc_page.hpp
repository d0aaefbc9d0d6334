// What docs/errors.md says: its rows (id, message, exit code) and how a row's message matches a line of output
// (errors_doc_test.cpp).
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <filesystem>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include "core/test_util.hpp"

namespace errors_doc {

struct Row {
  std::string id, message;
  int exit_code = -1;
};

// Rows of the tables in docs/errors.md: | `id` | what was wrong | `message` | exit |
inline std::map<std::string, Row> doc_rows() {
  std::map<std::string, Row> rows;
  std::istringstream in(testutil::read_file(std::filesystem::path(SLIMPIPE_SOURCE_DIR) / "docs" / "errors.md"));
  static const std::regex row(R"(^\| `([a-z0-9-]+)` \|[^|]*\| `(.*)` \| (\d+) \|\s*$)");
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (!std::regex_match(line, m, row)) continue;
    Row r{m[1], m[2], std::stoi(m[3])};
    EXPECT_TRUE(rows.emplace(r.id, r).second) << "docs/errors.md: row " << r.id << " twice";
  }
  return rows;
}

// `…` in the page matches any text; the pieces between must appear in order within one line.
inline bool line_matches(const std::string& line, const std::string& pattern) {
  std::size_t pos = 0, start = 0;
  const std::string ellipsis = "…";
  bool first = true;
  while (true) {
    std::size_t cut = pattern.find(ellipsis, start);
    std::string piece = pattern.substr(start, cut == std::string::npos ? std::string::npos : cut - start);
    if (cut == std::string::npos)  // the last piece ends the line
      return line.size() >= pos + piece.size() && line.compare(line.size() - piece.size(), piece.size(), piece) == 0 &&
             (!first || line.size() == piece.size());
    std::size_t at = line.find(piece, pos);
    if (at == std::string::npos || (first && at != 0)) return false;
    pos = at + piece.size();
    first = false;
    start = cut + ellipsis.size();
  }
}

inline std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) s.replace(p, from.size(), to);
  return s;
}

}  // namespace errors_doc
