// Reading JSON files with a nesting limit. nlohmann::json recurses once per nesting level when it dumps,
// compares or copies a value, so a file nested 100 000 levels deep would overflow the stack (SIGSEGV)
// long after parsing. The text is scanned for its depth first, a cheap pass over brackets outside strings,
// and rejected with a one-line Error naming the file before nlohmann builds anything.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "slimpipe/error.hpp"
#include "slimpipe/export.hpp"

namespace slimpipe {

// Deeper than any configuration or manifest needs, far below what the stack can take.
inline constexpr std::size_t kMaxJsonDepth = 256;

// The deepest nesting of arrays and objects in `text` ("1" is 0, "[1]" is 1, "{\"a\": [1]}" is 2), counting
// brackets outside string literals. Stops early and returns a value above `stop_above` once it is exceeded.
SLIMPIPE_API std::size_t json_nesting_depth(std::string_view text, std::size_t stop_above = SIZE_MAX);

// Throws Error "<where>: JSON nested deeper than <max_depth> levels" when `text` nests deeper.
SLIMPIPE_API void check_json_depth(std::string_view text, const std::string& where,
                                   std::size_t max_depth = kMaxJsonDepth);

// check_json_depth, then nlohmann::json::parse. Errors: "<where>: JSON nested deeper than 256 levels",
// "<where>: not valid JSON (<parser message>)".
SLIMPIPE_API nlohmann::json parse_json_text(std::string_view text, const std::string& where,
                                            std::size_t max_depth = kMaxJsonDepth);

// Reads and parses a whole file with parse_json_text. Errors name the file: "<path>: file not found",
// "<path>: cannot read: <reason>", and those of parse_json_text.
SLIMPIPE_API nlohmann::json parse_json_file(const std::filesystem::path& path, std::size_t max_depth = kMaxJsonDepth);

}  // namespace slimpipe
