// File loading, line splitting and TSV/CSV parsing shared by the readers.
// CSV follows RFC 4180 strictly: sloppy quoting is reported rather than guessed at.
#include "slimpipe/data/text_file.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "slimpipe/data/utf8.hpp"
#include "slimpipe/error.hpp"

namespace slimpipe::data {

std::string clip_for_message(std::string_view s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return std::string(s);
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // not inside a character
  return std::string(s.substr(0, cut)) + "\u2026";
}

void check_text_bytes(std::string_view text, const std::string& where, std::size_t first_line) {
  const std::size_t nul = text.find('\0');
  const std::size_t bad = utf8_first_invalid(text.substr(0, nul));  // npos-safe: substr clamps
  const std::size_t at = bad != std::string_view::npos ? bad : nul;
  if (at == std::string_view::npos) return;
  // Line breaks as split_lines counts them: "\n", "\r\n" or a lone "\r".
  std::size_t line = first_line, line_start = 0;
  for (std::size_t i = 0; i < at; ++i) {
    if (text[i] == '\n' || (text[i] == '\r' && (i + 1 >= text.size() || text[i + 1] != '\n'))) {
      ++line;
      line_start = i + 1;
    }
  }
  const std::string what = at == bad ? "invalid UTF-8" : "NUL byte";
  throw Error(where + ":" + std::to_string(line) + ": " + what + " at byte " + std::to_string(at - line_start + 1) +
              " (expected UTF-8 text)");
}

std::string read_text_file(const std::string& path, const std::string& expected) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw Error(path + ": is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open file (" + std::strerror(errno) + ")");
  std::ostringstream buf;
  buf << in.rdbuf();
  std::string text = buf.str();
  if (text.compare(0, 2, "\xFF\xFE") == 0 || text.compare(0, 2, "\xFE\xFF") == 0)
    throw Error(path + ":1: the file is UTF-16 (expected UTF-8 text; convert it, e.g. iconv -f UTF-16 -t UTF-8)");
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);
  check_text_bytes(text, path);
  if (text.find_first_not_of(" \t\r\n") == std::string::npos)
    throw Error(path + ":1: empty file (expected " + expected + ")");
  return text;
}

std::vector<TextLine> split_lines(std::string_view text) {
  std::vector<TextLine> lines;
  std::size_t start = 0, number = 1;
  while (start < text.size()) {
    std::size_t end = text.find_first_of("\r\n", start);
    if (end == std::string_view::npos) {
      lines.push_back({number, text.substr(start)});
      break;
    }
    lines.push_back({number++, text.substr(start, end - start)});
    start = end + 1;
    if (text[end] == '\r' && start < text.size() && text[start] == '\n') ++start;
  }
  return lines;
}

namespace {

bool is_blank(const DelimitedRecord& r) { return r.fields.size() == 1 && r.fields[0].empty(); }

std::vector<DelimitedRecord> split_unquoted(std::string_view text, char delimiter) {
  std::vector<DelimitedRecord> records;
  for (const TextLine& line : split_lines(text)) {
    DelimitedRecord r{line.number, {}};
    std::size_t start = 0;
    while (true) {
      std::size_t end = line.text.find(delimiter, start);
      r.fields.emplace_back(line.text.substr(start, end == std::string_view::npos ? end : end - start));
      if (end == std::string_view::npos) break;
      start = end + 1;
    }
    if (!is_blank(r)) records.push_back(std::move(r));
  }
  return records;
}

// RFC 4180 state machine over the whole text, counting line breaks as it goes.
std::vector<DelimitedRecord> split_quoted(std::string_view text, char delimiter, const std::string& path) {
  std::vector<DelimitedRecord> records;
  std::size_t line = 1, i = 0;
  const std::size_t n = text.size();
  auto where = [&](std::size_t at) { return path + ":" + std::to_string(at); };
  while (i < n) {
    DelimitedRecord r{line, {}};
    while (true) {  // one field per iteration
      std::string field;
      if (i < n && text[i] == '"') {
        const std::size_t open_line = line;
        ++i;
        while (true) {
          if (i >= n)
            throw Error(where(open_line) +
                        ": unterminated quoted field (a field that starts with \" must end with \")");
          char c = text[i];
          if (c == '"') {
            if (i + 1 < n && text[i + 1] == '"') {
              field.push_back('"');
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          if (c == '\r' && i + 1 < n && text[i + 1] == '\n') {
            field.push_back('\r');
            ++i;
            c = '\n';
          }
          if (c == '\n' || c == '\r') ++line;
          field.push_back(c);
          ++i;
        }
        if (i < n && text[i] != delimiter && text[i] != '\n' && text[i] != '\r')
          throw Error(where(line) + ": unexpected '" + std::string(1, text[i]) +
                      "' after a closing quote (expected the delimiter or the end of the line; write \"\" for a quote "
                      "inside a quoted field)");
      } else {
        while (i < n && text[i] != delimiter && text[i] != '\n' && text[i] != '\r') {
          if (text[i] == '"')
            throw Error(where(line) +
                        ": quote inside an unquoted field (wrap the whole field in quotes and double the inner quote)");
          field.push_back(text[i++]);
        }
      }
      r.fields.push_back(std::move(field));
      if (i < n && text[i] == delimiter) {
        ++i;
        continue;
      }
      break;  // end of line or of text
    }
    if (i < n) {  // consume the line break
      if (text[i] == '\r' && i + 1 < n && text[i + 1] == '\n') ++i;
      ++i;
      ++line;
    }
    if (!is_blank(r)) records.push_back(std::move(r));
  }
  return records;
}

}  // namespace

std::vector<DelimitedRecord> parse_delimited(std::string_view text, char delimiter, bool quoting,
                                             const std::string& path) {
  return quoting ? split_quoted(text, delimiter, path) : split_unquoted(text, delimiter);
}

}  // namespace slimpipe::data
