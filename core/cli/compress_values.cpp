// Flag values of `slimpipe compress` (compress_values.hpp): typed as the plugin parameters want them, and
// written as TOML.
#include "compress_values.hpp"

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <sstream>

namespace slimpipe::cli::compress {

namespace {

namespace fs = std::filesystem;

bool parse_float(const std::string& s, double& out) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end) return false;
  out = v;
  return true;
}

Json flag_value(const std::string& flag, const ParamSpec& spec, const std::vector<std::string>& values) {
  const bool list = spec.type == ParamType::StringList || spec.type == ParamType::IntList ||
                    spec.type == ParamType::FloatList || spec.type == ParamType::ScalarList;
  if (spec.type == ParamType::Bool && values.empty()) return true;
  if (spec.type == ParamType::Table)
    throw Error("--" + flag + ": table parameters cannot be set from the command line");
  if (values.empty()) throw Error("--" + flag + ": expected a value");
  if (list) {
    Json arr = Json::array();
    for (const auto& v : values) arr.push_back(scalar_value(flag, spec.type, v));
    return arr;
  }
  if (values.size() != 1) throw Error("--" + flag + ": expected one value, got " + std::to_string(values.size()));
  return scalar_value(flag, spec.type, values[0]);
}

// TOML text of a JSON scalar or array of scalars (TOML's basic strings use JSON's escapes).
std::string toml_value(const Json& v) {
  if (v.is_array()) {
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + toml_value(v[i]);
    return s + "]";
  }
  if (v.is_number_float()) {
    std::ostringstream o;
    o.precision(17);
    o << v.get<double>();
    std::string t = o.str();
    if (t.find_first_of(".eEn") == std::string::npos) t += ".0";
    return t;
  }
  return v.dump();
}

}  // namespace

bool parse_int(const std::string& s, std::int64_t& out) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end || errno) return false;
  out = v;
  return true;
}

Json scalar_value(const std::string& flag, ParamType type, const std::string& v) {
  std::int64_t i = 0;
  double f = 0;
  switch (type) {
    case ParamType::Int:
    case ParamType::IntList:
      if (!parse_int(v, i)) throw Error("--" + flag + ": expected an integer, got '" + v + "'");
      return i;
    case ParamType::Float:
    case ParamType::FloatList:
      if (!parse_float(v, f)) throw Error("--" + flag + ": expected a number, got '" + v + "'");
      return f;
    case ParamType::Bool:
      if (v == "true" || v == "True" || v == "1") return true;
      if (v == "false" || v == "False" || v == "0") return false;
      throw Error("--" + flag + ": expected true or false, got '" + v + "'");
    case ParamType::Path:
      return fs::absolute(v).lexically_normal().string();
    case ParamType::Scalar:
    case ParamType::ScalarList:
      if (parse_int(v, i)) return i;
      if (parse_float(v, f)) return f;
      return v;
    default:
      return v;
  }
}

Json checked_flag_value(const std::string& flag, const ParamSpec& spec, const std::vector<std::string>& values) {
  Json v = flag_value(flag, spec, values);
  const std::string err = Schema::check(spec, v);
  if (!err.empty()) {
    std::string given;
    for (const auto& x : values) given += " " + x;
    throw Error("--" + flag + given + ": " + err);
  }
  return v;
}

void emit_table(std::ostream& out, const std::string& header, const std::vector<std::pair<std::string, Json>>& rows) {
  out << "\n[" << header << "]\n";
  for (const auto& [k, v] : rows) out << k << " = " << toml_value(v) << "\n";
}

}  // namespace slimpipe::cli::compress
