// Parameter schemas that plugins declare, and typed access to the values a pipeline resolved.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "slimpipe/error.hpp"
#include "slimpipe/export.hpp"

namespace slimpipe {

using Json = nlohmann::json;

enum class ParamType {
  Bool,
  Int,
  Float,  // accepts integers too
  String,
  IntList,
  FloatList,  // accepts integers too
  StringList,
  ScalarList,  // a list of scalars of any type, e.g. width_mult_list = ["3/4", 0.5]
  Scalar,      // any one scalar (bool, int, float or string)
  Table,
  Path,  // a string; the host resolves a relative path against the pipeline file's folder
};

SLIMPIPE_API const char* to_string(ParamType type);

// One declared parameter. A parameter whose default is null and `required` is true must be set.
struct ParamSpec {
  std::string name;
  ParamType type = ParamType::String;
  Json default_value;  // null: no default
  std::string doc;
  Json allowed = Json::array();  // non-empty: the value (or every list element) must be one of these
  bool required = false;
};

// A plugin's parameter schema, built fluently:
//   Schema().param("sleep_ms", ParamType::Int, 0, "how long to sleep")
//           .param("algo", ParamType::String, "mse", "calibration", {"mse", "KL"});
class SLIMPIPE_API Schema {
 public:
  Schema& param(std::string name, ParamType type, Json default_value, std::string doc, Json allowed = Json::array());
  Schema& required(std::string name, ParamType type, std::string doc, Json allowed = Json::array());
  // A parameter the plugin no longer takes: a pipeline that sets it gets `instead` (what to write now) in the
  // error, rather than "unknown parameter".
  Schema& retired(std::string name, std::string instead);

  const std::vector<ParamSpec>& specs() const { return specs_; }
  const ParamSpec* find(const std::string& name) const;
  const std::string* retired_hint(const std::string& name) const;  // null: not a retired parameter

  Json to_json() const;
  static Schema from_json(const Json& j);  // throws Error on a malformed schema

  // Empty string when `value` fits `spec`, else what is wrong ("expected int, got string").
  static std::string check(const ParamSpec& spec, const Json& value);

 private:
  std::vector<ParamSpec> specs_;
  std::vector<std::pair<std::string, std::string>> retired_;  // name, what to write instead
};

// Resolved parameters: the pipeline's values over the schema's defaults. Typed getters throw
// slimpipe::Error naming the parameter when it is missing or of another type.
class SLIMPIPE_API Params {
 public:
  Params() : values_(Json::object()) {}
  explicit Params(Json values) : values_(std::move(values)) {}

  bool has(const std::string& key) const;
  const Json& raw(const std::string& key) const;
  const Json& json() const { return values_; }

  bool get_bool(const std::string& key) const;
  std::int64_t get_int(const std::string& key) const;
  double get_float(const std::string& key) const;
  std::string get_string(const std::string& key) const;
  std::vector<std::int64_t> get_int_list(const std::string& key) const;
  std::vector<double> get_float_list(const std::string& key) const;
  std::vector<std::string> get_string_list(const std::string& key) const;

  template <typename T>
  T get(const std::string& key) const;

 private:
  Json values_;
};

template <>
inline bool Params::get<bool>(const std::string& k) const {
  return get_bool(k);
}
template <>
inline std::int64_t Params::get<std::int64_t>(const std::string& k) const {
  return get_int(k);
}
template <>
inline int Params::get<int>(const std::string& k) const {
  return static_cast<int>(get_int(k));
}
template <>
inline double Params::get<double>(const std::string& k) const {
  return get_float(k);
}
template <>
inline float Params::get<float>(const std::string& k) const {
  return static_cast<float>(get_float(k));
}
template <>
inline std::string Params::get<std::string>(const std::string& k) const {
  return get_string(k);
}

// Applies a schema: fills defaults, rejects unknown keys and wrong types. Throws Error.
SLIMPIPE_API Params resolve_params(const Schema& schema, const Json& values, const std::string& where);

}  // namespace slimpipe
