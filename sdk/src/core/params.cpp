// Parameter schemas and typed parameter access.
#include "slimpipe/params.hpp"

#include <algorithm>
#include <cctype>

#include "slimpipe/data/text_file.hpp"

namespace slimpipe {

const char* to_string(ParamType type) {
  switch (type) {
    case ParamType::Bool:
      return "bool";
    case ParamType::Int:
      return "int";
    case ParamType::Float:
      return "float";
    case ParamType::String:
      return "string";
    case ParamType::IntList:
      return "list<int>";
    case ParamType::FloatList:
      return "list<float>";
    case ParamType::StringList:
      return "list<string>";
    case ParamType::ScalarList:
      return "list<scalar>";
    case ParamType::Scalar:
      return "scalar";
    case ParamType::Table:
      return "table";
    case ParamType::Path:
      return "path";
  }
  return "?";
}

namespace {

ParamType type_from_string(const std::string& s) {
  static const ParamType all[] = {ParamType::Bool,       ParamType::Int,        ParamType::Float,
                                  ParamType::String,     ParamType::IntList,    ParamType::FloatList,
                                  ParamType::StringList, ParamType::ScalarList, ParamType::Scalar,
                                  ParamType::Table,      ParamType::Path};
  for (ParamType t : all)
    if (s == to_string(t)) return t;
  throw Error("unknown parameter type '" + s + "'");
}

const char* json_type_name(const Json& v) {
  if (v.is_boolean()) return "bool";
  if (v.is_number_integer()) return "int";
  if (v.is_number_float()) return "float";
  if (v.is_string()) return "string";
  if (v.is_array()) return "list";
  if (v.is_object()) return "table";
  return "null";
}

bool is_scalar(const Json& v) { return v.is_boolean() || v.is_number() || v.is_string(); }

std::string check_element(ParamType elem, const Json& v) {
  bool ok = false;
  switch (elem) {
    case ParamType::Bool:
      ok = v.is_boolean();
      break;
    case ParamType::Int:
      ok = v.is_number_integer();
      break;
    case ParamType::Float:
      ok = v.is_number();
      break;
    case ParamType::String:
    case ParamType::Path:
      ok = v.is_string();
      break;
    case ParamType::Scalar:
      ok = is_scalar(v);
      break;
    default:
      ok = false;
  }
  if (ok) return "";
  return std::string("expected ") + to_string(elem) + ", got " + json_type_name(v);
}

}  // namespace

Schema& Schema::param(std::string name, ParamType type, Json default_value, std::string doc, Json allowed) {
  ParamSpec s;
  s.name = std::move(name);
  s.type = type;
  s.default_value = std::move(default_value);
  s.doc = std::move(doc);
  s.allowed = allowed.is_null() ? Json::array() : std::move(allowed);
  specs_.push_back(std::move(s));
  return *this;
}

Schema& Schema::required(std::string name, ParamType type, std::string doc, Json allowed) {
  param(std::move(name), type, nullptr, std::move(doc), std::move(allowed));
  specs_.back().required = true;
  return *this;
}

const ParamSpec* Schema::find(const std::string& name) const {
  for (const auto& s : specs_)
    if (s.name == name) return &s;
  return nullptr;
}

Schema& Schema::retired(std::string name, std::string instead) {
  retired_.emplace_back(std::move(name), std::move(instead));
  return *this;
}

const std::string* Schema::retired_hint(const std::string& name) const {
  for (const auto& [n, instead] : retired_)
    if (n == name) return &instead;
  return nullptr;
}

Json Schema::to_json() const {
  Json arr = Json::array();
  for (const auto& [name, instead] : retired_) arr.push_back({{"name", name}, {"retired", instead}});
  for (const auto& s : specs_) {
    arr.push_back({{"name", s.name},
                   {"type", to_string(s.type)},
                   {"default", s.default_value},
                   {"doc", s.doc},
                   {"allowed", s.allowed},
                   {"required", s.required}});
  }
  return arr;
}

Schema Schema::from_json(const Json& j) {
  if (!j.is_array()) throw Error("parameter schema is not a JSON array");
  Schema out;
  for (const auto& e : j) {
    if (e.is_object() && e.contains("name") && e.contains("retired")) {
      out.retired_.emplace_back(e.at("name").get<std::string>(), e.at("retired").get<std::string>());
      continue;
    }
    if (!e.is_object() || !e.contains("name") || !e.contains("type"))
      throw Error("parameter schema entry lacks 'name' or 'type'");
    ParamSpec s;
    s.name = e.at("name").get<std::string>();
    s.type = type_from_string(e.at("type").get<std::string>());
    s.default_value = e.value("default", Json());
    s.doc = e.value("doc", std::string());
    s.allowed = e.value("allowed", Json::array());
    s.required = e.value("required", false);
    out.specs_.push_back(std::move(s));
  }
  return out;
}

std::string Schema::check(const ParamSpec& spec, const Json& v) {
  std::string err;
  switch (spec.type) {
    case ParamType::Bool:
    case ParamType::Int:
    case ParamType::Float:
    case ParamType::String:
    case ParamType::Path:
    case ParamType::Scalar:
      err = check_element(spec.type, v);
      break;
    case ParamType::Table:
      if (!v.is_object()) err = std::string("expected table, got ") + json_type_name(v);
      break;
    case ParamType::IntList:
    case ParamType::FloatList:
    case ParamType::StringList:
    case ParamType::ScalarList: {
      if (!v.is_array()) {
        err = std::string("expected ") + to_string(spec.type) + ", got " + json_type_name(v);
        break;
      }
      ParamType elem = spec.type == ParamType::IntList      ? ParamType::Int
                       : spec.type == ParamType::FloatList  ? ParamType::Float
                       : spec.type == ParamType::StringList ? ParamType::String
                                                            : ParamType::Scalar;
      for (size_t i = 0; i < v.size() && err.empty(); ++i) {
        std::string e = check_element(elem, v[i]);
        if (!e.empty()) err = "element " + std::to_string(i) + ": " + e;
      }
      break;
    }
  }
  if (!err.empty() || spec.allowed.empty()) return err;
  auto allowed_one = [&](const Json& x) {
    return std::find(spec.allowed.begin(), spec.allowed.end(), x) != spec.allowed.end();
  };
  auto allowed_list = [&] {
    std::string s;
    for (const auto& a : spec.allowed) s += (s.empty() ? "" : ", ") + a.dump();
    return s;
  };
  // A value that differs from an allowed one only in case ("kl" for "KL") says which.
  auto not_allowed = [&](const Json& x) {
    std::string msg = "value " + data::clip_for_message(x.dump()) + " is not one of " + allowed_list();
    if (!x.is_string()) return msg;
    auto lower = [](std::string t) {
      for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return t;
    };
    const std::string want = lower(x.get<std::string>());
    for (const auto& a : spec.allowed)
      if (a.is_string() && lower(a.get<std::string>()) == want) return msg + " (did you mean " + a.dump() + "?)";
    return msg;
  };
  if (v.is_array()) {
    for (const auto& x : v)
      if (!allowed_one(x)) return not_allowed(x);
  } else if (!allowed_one(v)) {
    return not_allowed(v);
  }
  return "";
}

// --- Params -------------------------------------------------------------------------------

namespace {
[[noreturn]] void type_error(const std::string& key, const char* want, const Json& v) {
  throw Error("parameter '" + key + "': expected " + want + ", got " + json_type_name(v) + " " +
              data::clip_for_message(v.dump()));
}
}  // namespace

bool Params::has(const std::string& key) const { return values_.contains(key) && !values_.at(key).is_null(); }

const Json& Params::raw(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end() || it->is_null()) throw Error("parameter '" + key + "' is not set");
  return *it;
}

bool Params::get_bool(const std::string& key) const {
  const Json& v = raw(key);
  if (!v.is_boolean()) type_error(key, "bool", v);
  return v.get<bool>();
}

std::int64_t Params::get_int(const std::string& key) const {
  const Json& v = raw(key);
  if (!v.is_number_integer()) type_error(key, "int", v);
  return v.get<std::int64_t>();
}

double Params::get_float(const std::string& key) const {
  const Json& v = raw(key);
  if (!v.is_number()) type_error(key, "float", v);
  return v.get<double>();
}

std::string Params::get_string(const std::string& key) const {
  const Json& v = raw(key);
  if (!v.is_string()) type_error(key, "string", v);
  return v.get<std::string>();
}

std::vector<std::int64_t> Params::get_int_list(const std::string& key) const {
  const Json& v = raw(key);
  if (!v.is_array()) type_error(key, "list<int>", v);
  std::vector<std::int64_t> out;
  for (const auto& x : v) {
    if (!x.is_number_integer()) type_error(key, "list<int>", v);
    out.push_back(x.get<std::int64_t>());
  }
  return out;
}

std::vector<double> Params::get_float_list(const std::string& key) const {
  const Json& v = raw(key);
  if (!v.is_array()) type_error(key, "list<float>", v);
  std::vector<double> out;
  for (const auto& x : v) {
    if (!x.is_number()) type_error(key, "list<float>", v);
    out.push_back(x.get<double>());
  }
  return out;
}

std::vector<std::string> Params::get_string_list(const std::string& key) const {
  const Json& v = raw(key);
  if (!v.is_array()) type_error(key, "list<string>", v);
  std::vector<std::string> out;
  for (const auto& x : v) {
    if (!x.is_string()) type_error(key, "list<string>", v);
    out.push_back(x.get<std::string>());
  }
  return out;
}

Params resolve_params(const Schema& schema, const Json& values, const std::string& where) {
  Json out = Json::object();
  if (!values.is_null() && !values.is_object()) throw Error(where + ": parameters must be a table");
  if (values.is_object()) {
    for (auto it = values.begin(); it != values.end(); ++it) {
      const ParamSpec* spec = schema.find(it.key());
      if (const std::string* instead = spec ? nullptr : schema.retired_hint(it.key()))
        throw Error(where + ": parameter '" + it.key() + "' is no longer taken: " + *instead);
      if (!spec) throw Error(where + ": unknown parameter '" + it.key() + "'");
      std::string err = Schema::check(*spec, it.value());
      if (!err.empty()) throw Error(where + ": parameter '" + it.key() + "': " + err);
      out[it.key()] = it.value();
    }
  }
  for (const auto& spec : schema.specs()) {
    if (out.contains(spec.name)) continue;
    if (spec.required) throw Error(where + ": required parameter '" + spec.name + "' is not set");
    out[spec.name] = spec.default_value;
  }
  return Params(std::move(out));
}

}  // namespace slimpipe
