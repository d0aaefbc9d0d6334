// Reading users' text files: whole-file load, line splitting, and TSV/CSV record parsing.
// Every record keeps the 1-based line it starts on so errors can point at it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "slimpipe/export.hpp"

namespace slimpipe::data {

// The whole file, without a leading UTF-8 byte-order mark. Throws Error
// "<path>: cannot open file (No such file or directory)", "<path>: is a directory, expected a file",
// "<path>:1: empty file (expected ...)" when it holds nothing but whitespace (`expected` describes
// the format for that message), and "<path>:<line>: invalid UTF-8 at byte <n>" or
// "<path>:<line>: NUL byte at byte <n>" (n counts from 1 within the line) for text that is not UTF-8.
SLIMPIPE_API std::string read_text_file(const std::string& path, const std::string& expected);

// Throws the "<where>:<line>: invalid UTF-8 at byte <n> ..." / "NUL byte" Error above for the first bad
// byte of `text`, whose first line is `first_line`; does nothing when it is clean UTF-8 without NUL.
SLIMPIPE_API void check_text_bytes(std::string_view text, const std::string& where, std::size_t first_line = 1);

// `s` when it has at most `max_bytes` bytes, else its first bytes (cut at a character boundary)
// followed by "…": how users' text is quoted in one-line error messages.
SLIMPIPE_API std::string clip_for_message(std::string_view s, std::size_t max_bytes = 200);

struct TextLine {
  std::size_t number = 0;  // 1-based
  std::string_view text;   // without the line break ("\n", "\r\n" or a lone "\r" at the end)
};
SLIMPIPE_API std::vector<TextLine> split_lines(std::string_view text);

struct DelimitedRecord {
  std::size_t line = 0;  // line the record starts on (a quoted CSV field may span lines)
  std::vector<std::string> fields;
};

// Splits delimited text into records; blank lines are skipped.
// quoting = false (TSV as GLUE writes it): fields are split at every delimiter, quotes are data.
// quoting = true (CSV, RFC 4180): a field may be wrapped in double quotes, "" inside stands for
// one quote, and line breaks inside quotes are data. Throws Error "<path>:<line>: ..." on an
// unterminated quoted field, text after a closing quote, or a quote inside an unquoted field.
SLIMPIPE_API std::vector<DelimitedRecord> parse_delimited(std::string_view text, char delimiter, bool quoting,
                                                          const std::string& path);

}  // namespace slimpipe::data
