// JSON files with a depth limit: a bracket count before nlohmann's parser, which is iterative, builds a value
// that nlohmann's recursive dump / copy / compare could not handle.
#include "slimpipe/io/json_file.hpp"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>

namespace slimpipe {

std::size_t json_nesting_depth(std::string_view text, std::size_t stop_above) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;  // the escaped character cannot end the string
      else if (c == '"')
        in_string = false;
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > deepest) {
          deepest = depth;
          if (deepest > stop_above) return deepest;
        }
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;  // unbalanced text is the parser's to report
        break;
      default:
        break;
    }
  }
  return deepest;
}

void check_json_depth(std::string_view text, const std::string& where, std::size_t max_depth) {
  if (json_nesting_depth(text, max_depth) > max_depth)
    throw Error(where + ": JSON nested deeper than " + std::to_string(max_depth) + " levels");
}

nlohmann::json parse_json_text(std::string_view text, const std::string& where, std::size_t max_depth) {
  check_json_depth(text, where, max_depth);
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    const std::string what = e.what();
    throw Error(where + ": not valid JSON (" + what.substr(0, what.find('\n')) + ")");
  }
}

nlohmann::json parse_json_file(const std::filesystem::path& path, std::size_t max_depth) {
  const std::string where = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw Error(where + ": file not found");
    throw Error(where + ": cannot read: " + std::strerror(errno));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw Error(where + ": cannot read: " + std::strerror(errno));
  return parse_json_text(buffer.str(), where, max_depth);
}

}  // namespace slimpipe
