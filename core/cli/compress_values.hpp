// Flag values of `slimpipe compress`: each typed as the plugin parameter it sets wants it (checked against the
// parameter's schema), and the TOML tables of the pipeline written from them.
#pragma once

#include <cstdint>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "slimpipe/params.hpp"

namespace slimpipe::cli::compress {

// A wrong flag: `slimpipe compress` prints it and exits with the usage status.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A whole decimal integer; false (out untouched) on anything else.
bool parse_int(const std::string& s, std::int64_t& out);

// One scalar flag value as the parameter's (element) type wants it.
Json scalar_value(const std::string& flag, ParamType type, const std::string& v);

// The values of --flag as the parameter `spec` wants them, checked against its schema (choices, types) so a bad
// value is one error that names the flag, not two about the TOML file written from it.
Json checked_flag_value(const std::string& flag, const ParamSpec& spec, const std::vector<std::string>& values);

// "[header]" and one "key = value" line per row.
void emit_table(std::ostream& out, const std::string& header, const std::vector<std::pair<std::string, Json>>& rows);

}  // namespace slimpipe::cli::compress
