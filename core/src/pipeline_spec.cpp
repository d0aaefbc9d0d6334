// Parsing and checking of pipeline files. The checks run to completion and collect every problem
// as `file:line:col: message`; nothing runs until the whole file is clean.
#include "slimpipe/core/pipeline_spec.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "slimpipe/cuda.hpp"
#include "slimpipe/data/text_file.hpp"

namespace slimpipe::core {

namespace {

// Users' text (keys, values) as error messages quote it: at most about 200 bytes, then "…".
std::string clip(std::string_view s, std::size_t max_bytes = 200) { return data::clip_for_message(s, max_bytes); }

const std::vector<std::string> kTopKeys = {"pipeline", "model", "task", "nodes"};
const std::vector<std::string> kPipelineKeys = {"name",      "output_dir", "max_parallel", "threads_per_instance",
                                                "fail_fast", "seed",       "device",       "description"};
const std::vector<std::string> kModelKeys = {"path"};
constexpr std::int64_t kMaxThreadsPerInstance = 1024;
constexpr std::size_t kMaxNodeIdBytes = 128;
const std::vector<std::string> kNodeKeys = {"type", "inputs", "collect", "matrix", "description"};

class Checker {
 public:
  Checker(fs::path file, const PluginRegistry& registry) : file_(std::move(file)), registry_(registry) {}

  SourcePos pos(const toml::source_region& r) const {
    if (!r.begin) return SourcePos{"--set", 0, 0};
    if (r.path && *r.path != file_.string()) return SourcePos{*r.path, 0, 0};
    return SourcePos{file_.string(), static_cast<int>(r.begin.line), static_cast<int>(r.begin.column)};
  }
  SourcePos pos(const toml::node& n) const { return pos(n.source()); }
  SourcePos pos(const toml::key& k) const { return pos(k.source()); }

  void error(const SourcePos& p, std::string msg) { diags_.push_back({p, std::move(msg)}); }
  std::vector<Diagnostic>& diags() { return diags_; }

  const fs::path& file() const { return file_; }
  const PluginRegistry& registry() const { return registry_; }

 private:
  fs::path file_;
  const PluginRegistry& registry_;
  std::vector<Diagnostic> diags_;
};

const char* toml_type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "table";
    case toml::node_type::array: return "array";
    case toml::node_type::string: return "string";
    case toml::node_type::integer: return "integer";
    case toml::node_type::floating_point: return "float";
    case toml::node_type::boolean: return "boolean";
    default: return "date/time";
  }
}

Json to_json(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return n.as_string()->get();
    case toml::node_type::integer: return n.as_integer()->get();
    case toml::node_type::floating_point: return n.as_floating_point()->get();
    case toml::node_type::boolean: return n.as_boolean()->get();
    case toml::node_type::array: {
      Json arr = Json::array();
      for (const auto& e : *n.as_array()) arr.push_back(to_json(e));
      return arr;
    }
    case toml::node_type::table: {
      Json obj = Json::object();
      for (const auto& [k, v] : *n.as_table()) obj[std::string(k.str())] = to_json(v);
      return obj;
    }
    default: {
      // Dates and times: kept as their TOML text.
      std::ostringstream ss;
      n.visit([&](auto&& v) {
        if constexpr (toml::is_date<decltype(v)> || toml::is_time<decltype(v)> || toml::is_date_time<decltype(v)>) ss << v;
      });
      return ss.str();
    }
  }
}

// Table entries in file order (TOML++ keeps them sorted by key); overrides come last.
std::vector<std::pair<const toml::key*, const toml::node*>> ordered(const toml::table& t) {
  std::vector<std::pair<const toml::key*, const toml::node*>> out;
  for (const auto& [k, v] : t) out.emplace_back(&k, &v);
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    const auto& ra = a.first->source().begin;
    const auto& rb = b.first->source().begin;
    if (!ra != !rb) return static_cast<bool>(ra);
    if (ra.line != rb.line) return ra.line < rb.line;
    return ra.column < rb.column;
  });
  return out;
}

void check_keys(Checker& c, const toml::table& t, const std::vector<std::string>& allowed, const std::string& where) {
  for (const auto& [k, v] : t) {
    std::string key(k.str());
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      c.error(c.pos(k), "unknown key '" + clip(key) + "' in " + where + did_you_mean(key, allowed));
  }
}

// The first key or table header in `text` with more than kMaxKeyParts dotted parts, found before TOML++
// parses it: its parser (3.3) has no limit there and overflows the stack on keys of ~100k parts. A light
// lexer: strings and comments are skipped; a run of bare keys, quoted keys and dots is a key (a float such
// as 1.5 is a run of one dot). Returns a message naming the key, and its position.
std::optional<std::pair<SourcePos, std::string>> overlong_key(std::string_view text, const std::string& file) {
  constexpr std::size_t npos = std::string_view::npos;
  const std::size_t n = text.size();
  std::size_t i = 0, line = 1, col = 1;
  std::size_t dots = 0, run_start = npos, run_line = 0, run_col = 0;
  std::optional<std::pair<SourcePos, std::string>> found;
  auto advance = [&](std::size_t k) {
    for (; k > 0 && i < n; --k, ++i) {
      if (text[i] == '\n') {
        ++line;
        col = 1;
      } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
        ++col;  // columns count characters, as TOML++ does
      }
    }
  };
  auto start_run = [&] {
    if (run_start == npos) run_start = i, run_line = line, run_col = col;
  };
  auto end_run = [&] {
    if (run_start != npos && dots + 1 > static_cast<std::size_t>(kMaxKeyParts) && !found)
      found = std::make_pair(SourcePos{file, static_cast<int>(run_line), static_cast<int>(run_col)},
                             "key '" + clip(text.substr(run_start, i - run_start), 80) + "' has " +
                                 std::to_string(dots + 1) + " parts; keys and table headers may have at most " +
                                 std::to_string(kMaxKeyParts));
    run_start = npos;
    dots = 0;
  };
  while (i < n && !found) {
    const char ch = text[i];
    if (ch == '#') {
      end_run();
      while (i < n && text[i] != '\n') advance(1);
    } else if (ch == '"' || ch == '\'') {
      const bool multi = text.substr(i, 3) == (ch == '"' ? "\"\"\"" : "'''");
      if (multi) end_run(); else start_run();  // a multi-line string is a value, never a key
      advance(multi ? 3 : 1);
      while (i < n) {
        if (ch == '"' && text[i] == '\\') {
          advance(2);
        } else if (!multi && text[i] == '\n') {
          break;
        } else if (multi ? text.substr(i, 3) == (ch == '"' ? "\"\"\"" : "'''") : text[i] == ch) {
          advance(multi ? 3 : 1);
          break;
        } else {
          advance(1);
        }
      }
    } else if (ch == '.') {
      start_run();
      ++dots;
      advance(1);
    } else if (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-') {
      start_run();
      advance(1);
    } else if (ch == ' ' || ch == '\t') {
      advance(1);
    } else {
      end_run();
      advance(1);
    }
  }
  end_run();
  return found;
}

// Tables and arrays nested deeper than kMaxNesting (a deep header with a deep dotted key under it, inline
// tables, --set paths) are refused before anything walks the document recursively. Iterative.
void check_nesting(Checker& c, const toml::table& root) {
  constexpr std::size_t none = static_cast<std::size_t>(-1);
  struct Item {
    const toml::node* node;
    int depth;
    std::size_t parent;
    std::string key;
  };
  std::vector<Item> items{{&root, 0, none, ""}};
  std::vector<std::size_t> todo{0};
  while (!todo.empty()) {
    const std::size_t idx = todo.back();
    todo.pop_back();
    const toml::node* node = items[idx].node;
    const int depth = items[idx].depth;
    if (depth > kMaxNesting) {
      std::vector<const std::string*> parts;
      for (std::size_t k = idx; k != none && items[k].parent != none; k = items[k].parent) parts.push_back(&items[k].key);
      std::string path;
      for (auto it = parts.rbegin(); it != parts.rend(); ++it)
        path += (path.empty() || (*it)->front() == '[' ? "" : ".") + **it;
      // Tables made implicitly by a dotted key or --set have no position of their own: use the first
      // value below them that has one.
      const toml::node* at = node;
      while (!at->source().begin) {
        const toml::node* next = nullptr;
        if (const toml::table* t = at->as_table(); t && !t->empty()) next = &t->begin()->second;
        if (const toml::array* a = at->as_array(); a && !a->empty()) next = a->get(0);
        if (!next) break;
        at = next;
      }
      c.error(c.pos(*at), "'" + clip(path, 80) + "' is nested more than " + std::to_string(kMaxNesting) +
                                " levels deep; tables and arrays may nest at most " + std::to_string(kMaxNesting) +
                                " levels");
      throw SpecError(std::move(c.diags()));
    }
    if (const toml::table* t = node->as_table()) {
      for (auto&& [k, v] : *t) {
        items.push_back({&v, depth + 1, idx, std::string(k.str())});
        todo.push_back(items.size() - 1);
      }
    } else if (const toml::array* a = node->as_array()) {
      for (std::size_t j = 0; j < a->size(); ++j) {
        items.push_back({a->get(j), depth + 1, idx, "[" + std::to_string(j) + "]"});
        todo.push_back(items.size() - 1);
      }
    }
  }
}

// The ${NAME} or ${NAME:-default} starting at `at` (where "${" is), as the pattern
// \$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\} matches it: one past its '}', or npos. A scan, not std::regex:
// libstdc++'s matcher recurses once per character and overflowed the stack on a 100 kB ${...} string.
std::size_t match_env_var(const std::string& in, std::size_t at, std::string& name, std::optional<std::string>& fallback) {
  auto name_char = [](char ch, bool first) {
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_' || (!first && ch >= '0' && ch <= '9');
  };
  std::size_t i = at + 2;
  if (i >= in.size() || !name_char(in[i], true)) return std::string::npos;
  std::size_t j = i + 1;
  while (j < in.size() && name_char(in[j], false)) ++j;
  name = in.substr(i, j - i);
  fallback.reset();
  if (j < in.size() && in[j] == '}') return j + 1;
  if (in.compare(j, 2, ":-") != 0) return std::string::npos;
  const std::size_t close = in.find('}', j + 2);
  if (close == std::string::npos) return std::string::npos;
  fallback = in.substr(j + 2, close - j - 2);
  return close + 1;
}

// Replaces ${NAME} and ${NAME:-default} in every string of the document.
void interpolate_env(Checker& c, toml::node& n) {
  if (auto* s = n.as_string()) {
    const std::string& in = s->get();
    if (in.find("${") == std::string::npos) return;
    std::string out;
    std::size_t last = 0;
    for (std::size_t at = in.find("${"); at != std::string::npos; at = in.find("${", at)) {
      std::string name;
      std::optional<std::string> fallback;
      const std::size_t end = match_env_var(in, at, name, fallback);
      if (end == std::string::npos) {
        ++at;
        continue;
      }
      out += in.substr(last, at - last);
      const char* val = std::getenv(name.c_str());
      if (val) {
        out += val;
      } else if (fallback) {
        out += *fallback;
      } else {
        c.error(c.pos(n), "environment variable '" + clip(name) + "' is not set (write ${" + clip(name) +
                              ":-default} to give a default)");
      }
      last = at = end;
    }
    out += in.substr(last);
    s->get() = out;
  } else if (auto* a = n.as_array()) {
    for (auto& e : *a) interpolate_env(c, e);
  } else if (auto* t = n.as_table()) {
    for (auto&& [k, v] : *t) interpolate_env(c, v);
  }
}

// --set a.b.c=value: the value is parsed as a TOML value when it is one, else taken as a string.
// A malformed --set is a usage error (exit status 2).
void apply_override(toml::table& root, const std::string& spec) {
  auto eq = spec.find('=');
  if (eq == std::string::npos || eq == 0)
    throw UsageError("--set " + clip(spec) + ": expected key.path=value, e.g. --set pipeline.output_dir=runs/x");
  std::string path = spec.substr(0, eq);
  std::string value = spec.substr(eq + 1);
  const std::string where = "--set " + clip(path, 80);
  const std::size_t n_parts = static_cast<std::size_t>(std::count(path.begin(), path.end(), '.')) + 1;
  if (n_parts > static_cast<std::size_t>(kMaxKeyParts))
    throw UsageError(where + ": the key has " + std::to_string(n_parts) + " parts; at most " +
                     std::to_string(kMaxKeyParts) + " are allowed");
  std::vector<std::string> parts;
  std::stringstream ss(path);
  std::string part;
  while (std::getline(ss, part, '.')) {
    if (part.empty()) throw UsageError("--set " + clip(spec) + ": empty component in key path '" + clip(path) + "'");
    parts.push_back(part);
  }
  if (parts.size() < n_parts)  // a trailing dot
    throw UsageError("--set " + clip(spec) + ": empty component in key path '" + clip(path) + "'");
  if (auto bad = overlong_key(value, "--set"))
    throw UsageError(where + ": the value's " + bad->second);
  toml::table* t = &root;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    toml::node* n = t->get(parts[i]);
    if (!n) {
      t->insert(parts[i], toml::table{});
      n = t->get(parts[i]);
    }
    if (!n->is_table()) throw UsageError(where + ": '" + clip(parts[i]) + "' is not a table");
    t = n->as_table();
  }
  toml::table holder;
  try {
    holder = toml::parse("v = " + value, where);
  } catch (const toml::parse_error&) {
    holder = toml::table{};
    holder.insert("v", value);
  }
  holder.get("v")->visit([&](auto&& v) { t->insert_or_assign(parts.back(), std::move(v)); });
}

std::string str_value(Checker& c, const toml::node& n, const std::string& what) {
  if (!n.is_string()) {
    c.error(c.pos(n), what + " must be a string, got " + toml_type_name(n));
    return {};
  }
  return n.as_string()->get();
}

std::optional<std::int64_t> int_value(Checker& c, const toml::node& n, const std::string& what, std::int64_t min,
                                      std::optional<std::int64_t> max = std::nullopt) {
  if (!n.is_integer()) {
    c.error(c.pos(n), what + " must be an integer, got " + toml_type_name(n));
    return std::nullopt;
  }
  std::int64_t v = n.as_integer()->get();
  if (max && (v < min || v > *max)) {
    c.error(c.pos(n), what + " must be between " + std::to_string(min) + " and " + std::to_string(*max) + ", got " +
                          std::to_string(v));
    return std::nullopt;
  }
  if (v < min) {
    c.error(c.pos(n), what + " must be >= " + std::to_string(min) + ", got " + std::to_string(v));
    return std::nullopt;
  }
  return v;
}

std::optional<bool> bool_value(Checker& c, const toml::node& n, const std::string& what) {
  if (!n.is_boolean()) {
    c.error(c.pos(n), what + " must be true or false, got " + toml_type_name(n));
    return std::nullopt;
  }
  return n.as_boolean()->get();
}

fs::path resolve_path(const fs::path& base, const std::string& p) {
  fs::path path(p);
  if (path.is_relative()) path = base / path;
  return path.lexically_normal();
}

// Checks one parameter value (or matrix value) against a plugin schema.
void check_param(Checker& c, const PluginInfo& plugin, const std::string& key, const toml::node& value,
                 const SourcePos& key_pos, const std::string& where, std::vector<std::string> extra_keys) {
  const ParamSpec* spec = plugin.schema.find(key);
  if (!spec) {
    for (const auto& s : plugin.schema.specs()) extra_keys.push_back(s.name);
    c.error(key_pos, "unknown key '" + clip(key) + "' in " + where + " (plugin '" + plugin.name + "' has no such parameter)" +
                         did_you_mean(key, extra_keys));
    return;
  }
  std::string err = Schema::check(*spec, to_json(value));
  if (!err.empty()) c.error(c.pos(value), "parameter '" + key + "' of " + where + ": " + err);
}

std::vector<std::pair<std::string, Json>> matrix_entry(Checker& c, const toml::node& n, const std::string& what) {
  std::vector<std::pair<std::string, Json>> out;
  const toml::table* t = n.as_table();
  if (!t) {
    c.error(c.pos(n), what + " entries must be tables such as { algo = \"KL\" }, got " + toml_type_name(n));
    return out;
  }
  for (auto [k, v] : ordered(*t)) out.emplace_back(std::string(k->str()), to_json(*v));
  return out;
}

void parse_matrix(Checker& c, NodeSpec& node, const toml::table& m) {
  node.matrix.pos = c.pos(m);
  const std::string where = "[nodes." + node.id + ".matrix]";
  std::vector<std::string> param_names;
  if (node.plugin)
    for (const auto& s : node.plugin->schema.specs()) param_names.push_back(s.name);
  for (auto [kp, vp] : ordered(m)) {
    const std::string key(kp->str());
    const toml::node& v = *vp;
    if (key == "include" || key == "exclude") {
      const toml::array* arr = v.as_array();
      if (!arr) {
        c.error(c.pos(v), where + " " + key + " must be an array of tables, got " + toml_type_name(v));
        continue;
      }
      for (const auto& e : *arr) {
        auto entry = matrix_entry(c, e, where + " " + key);
        for (const auto& [ek, ev] : entry) {
          if (node.plugin && !node.plugin->schema.find(ek))
            c.error(c.pos(e), where + " " + key + ": unknown parameter '" + ek + "'" + did_you_mean(ek, param_names));
        }
        (key == "include" ? node.matrix.include : node.matrix.exclude).push_back(std::move(entry));
      }
      continue;
    }
    if (node.params.contains(key))
      c.error(c.pos(*kp), "'" + key + "' is set both as a parameter of [nodes." + node.id + "] and as a matrix axis");
    const toml::array* arr = v.as_array();
    if (!arr) {
      c.error(c.pos(v), where + " axis '" + key + "' must be an array of values, got " + toml_type_name(v));
      continue;
    }
    if (arr->empty()) {
      c.error(c.pos(v), where + " axis '" + key + "' is empty");
      continue;
    }
    MatrixAxis axis{key, {}};
    if (node.plugin) {
      const ParamSpec* spec = node.plugin->schema.find(key);
      if (!spec) {
        std::vector<std::string> cands = param_names;
        cands.push_back("include");
        cands.push_back("exclude");
        c.error(c.pos(*kp), "unknown key '" + clip(key) + "' in " + where + " (plugin '" + node.plugin->name +
                                "' has no such parameter)" + did_you_mean(key, cands));
        continue;
      }
      for (const auto& e : *arr) {
        std::string err = Schema::check(*spec, to_json(e));
        if (!err.empty()) c.error(c.pos(e), where + " axis '" + key + "': " + err);
      }
    }
    for (const auto& e : *arr) axis.values.push_back(to_json(e));
    node.matrix.axes.push_back(std::move(axis));
  }
  // Exclude entries may only name axes.
  for (const auto& ex : node.matrix.exclude)
    for (const auto& entry : ex) {
      const std::string& k = entry.first;  // not a structured binding: clang 14 cannot capture those in a lambda
      bool is_axis = std::any_of(node.matrix.axes.begin(), node.matrix.axes.end(),
                                 [&](const MatrixAxis& a) { return a.key == k; });
      if (!is_axis && (!node.plugin || node.plugin->schema.find(k)))
        c.error(node.matrix.pos, where + " exclude names '" + k + "', which is not a matrix axis");
    }
}

// PaddleNLP-style flat lists (algo_list = ["mse", "KL"]) become matrix axes of their scalar parameter, so each
// value is a cell the executor runs in parallel; an unset list fans out its default unless the scalar is set.
// The convention (docs/plugins.md): a list parameter "<name>_list" next to a scalar parameter "<name>".
const ParamSpec* fan_out_target(const Schema& schema, const ParamSpec& spec) {
  static const std::string suffix = "_list";
  const bool list = spec.type == ParamType::StringList || spec.type == ParamType::IntList ||
                    spec.type == ParamType::FloatList || spec.type == ParamType::ScalarList;
  if (!list || spec.name.size() <= suffix.size() ||
      spec.name.compare(spec.name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return nullptr;
  const ParamSpec* target = schema.find(spec.name.substr(0, spec.name.size() - suffix.size()));
  if (!target) return nullptr;
  const bool scalar = target->type == ParamType::String || target->type == ParamType::Int ||
                      target->type == ParamType::Float || target->type == ParamType::Bool ||
                      target->type == ParamType::Scalar;
  return scalar ? target : nullptr;
}

void fan_out_lists(Checker& c, NodeSpec& node, const toml::table& t) {
  const std::string where = "[nodes." + node.id + "]";
  for (const auto& spec : node.plugin->schema.specs()) {
    const ParamSpec* target = fan_out_target(node.plugin->schema, spec);
    if (!target) continue;
    const std::string& scalar = target->name;
    const bool scalar_is_axis = std::any_of(node.matrix.axes.begin(), node.matrix.axes.end(),
                                            [&](const MatrixAxis& a) { return a.key == scalar; });
    const bool scalar_set = node.params.contains(scalar) || scalar_is_axis;
    Json values;
    if (node.params.contains(spec.name)) {
      if (scalar_set) {
        const toml::node* kn = t.get(spec.name);
        c.error(kn ? c.pos(*kn) : node.pos, where + " sets both '" + spec.name + "' and '" + scalar + "'" +
                                                (scalar_is_axis ? " (a matrix axis)" : "") + "; '" + spec.name +
                                                "' is a shorthand for a matrix axis '" + scalar + "', use one of them");
        continue;
      }
      values = node.params[spec.name];
      node.params.erase(spec.name);
    } else if (!scalar_set && spec.default_value.is_array() && !spec.default_value.empty()) {
      values = spec.default_value;
    } else {
      continue;
    }
    if (!values.is_array() || values.empty()) {
      const toml::node* kn = t.get(spec.name);
      c.error(kn ? c.pos(*kn) : node.pos, where + " '" + spec.name + "' must be a non-empty list");
      continue;
    }
    MatrixAxis axis{scalar, {}};
    // A list the parameter check already refused (a value outside its choices) is reported once, there.
    const bool list_refused = !Schema::check(spec, values).empty();
    for (const auto& v : values) {
      const std::string err = list_refused ? std::string() : Schema::check(*target, v);
      if (!err.empty()) {
        const toml::node* kn = t.get(spec.name);
        c.error(kn ? c.pos(*kn) : node.pos, where + " '" + spec.name + "' entry " + v.dump() + ": " + err);
      }
      axis.values.push_back(v);
    }
    node.matrix.axes.push_back(std::move(axis));
  }
}

// A composite node (type = "dynabert+ptq") becomes one node per step: "<id>_<suffix>" ... and finally "<id>",
// each taking the previous one as input. A parameter or matrix axis goes to the step that claims it, else to
// every step whose plugin declares it.
void expand_composite(Checker& c, NodeSpec node, const toml::table& t, PipelineSpec& spec) {
  const std::string where = "[nodes." + node.id + "]";
  const auto& steps = node.plugin->steps;
  std::vector<NodeSpec> subs;
  std::vector<std::string> all_keys;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    NodeSpec sub;
    sub.id = i + 1 == steps.size() ? node.id : node.id + "_" + steps[i].suffix;
    sub.type = steps[i].plugin;
    sub.pos = node.pos;
    sub.plugin = c.registry().find(steps[i].plugin);
    if (!sub.plugin || sub.plugin->kind != "strategy") {
      c.error(node.pos, where + ": composite '" + node.type + "' needs the strategy plugin '" + steps[i].plugin +
                            "', which is not installed (`slimpipe plugins` lists the plugins found)");
      return;
    }
    for (const auto& p : sub.plugin->schema.specs()) all_keys.push_back(p.name);
    if (i == 0) {
      sub.inputs = node.inputs;
      sub.input_pos = node.input_pos;
    } else {
      sub.inputs = {subs.back().id};
      sub.input_pos = {node.pos};
    }
    subs.push_back(std::move(sub));
  }
  subs.back().collect = node.collect;
  // Which steps a key goes to.
  auto owners = [&](const std::string& key) {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < steps.size(); ++i)
      if (std::find(steps[i].claims.begin(), steps[i].claims.end(), key) != steps[i].claims.end()) return std::vector<std::size_t>{i};
    for (std::size_t i = 0; i < steps.size(); ++i)
      if (subs[i].plugin->schema.find(key)) out.push_back(i);
    return out;
  };
  std::vector<std::string> reserved = kNodeKeys;
  for (auto [kp, vp] : ordered(t)) {
    const std::string key(kp->str());
    if (std::find(kNodeKeys.begin(), kNodeKeys.end(), key) != kNodeKeys.end()) continue;
    const auto to = owners(key);
    if (to.empty()) {
      std::vector<std::string> cands = all_keys;
      cands.insert(cands.end(), reserved.begin(), reserved.end());
      c.error(c.pos(*kp), "unknown key '" + clip(key) + "' in " + where + " (no step of composite '" + node.type +
                              "' has such a parameter)" + did_you_mean(key, cands));
      continue;
    }
    for (std::size_t i : to) {
      check_param(c, *subs[i].plugin, key, *vp, c.pos(*kp), where, reserved);
      subs[i].params[key] = to_json(*vp);
    }
  }
  if (const toml::node* m = t.get("matrix")) {
    const toml::table* mt = m->as_table();
    if (!mt) {
      c.error(c.pos(*m), where + " matrix must be a table, got " + toml_type_name(*m));
    } else {
      for (auto [kp, vp] : ordered(*mt)) {
        const std::string key(kp->str());
        if (key == "include" || key == "exclude") {
          c.error(c.pos(*kp), where + " matrix " + key + " is not supported on a composite node; write its steps as "
                                      "separate nodes to use it");
          continue;
        }
        const toml::array* arr = vp->as_array();
        const auto to = owners(key);
        if (to.empty() || !arr || arr->empty()) {
          c.error(c.pos(*kp), to.empty() ? "unknown key '" + clip(key) + "' in [nodes." + node.id + ".matrix]" + did_you_mean(key, all_keys)
                                         : "[nodes." + node.id + ".matrix] axis '" + key + "' must be a non-empty array");
          continue;
        }
        for (std::size_t i : to) {
          if (subs[i].params.contains(key))
            c.error(c.pos(*kp), "'" + key + "' is set both as a parameter of " + where + " and as a matrix axis");
          MatrixAxis axis{key, {}};
          for (const auto& e : *arr) {
            const std::string err = Schema::check(*subs[i].plugin->schema.find(key), to_json(e));
            if (!err.empty()) c.error(c.pos(e), "[nodes." + node.id + ".matrix] axis '" + key + "': " + err);
            axis.values.push_back(to_json(e));
          }
          subs[i].matrix.pos = c.pos(*mt);
          subs[i].matrix.axes.push_back(std::move(axis));
        }
      }
    }
  }
  for (auto& sub : subs) {
    fan_out_lists(c, sub, t);
    for (const auto& s : sub.plugin->schema.specs()) {
      if (!s.required || sub.params.contains(s.name)) continue;
      bool axis = std::any_of(sub.matrix.axes.begin(), sub.matrix.axes.end(),
                              [&](const MatrixAxis& a) { return a.key == s.name; });
      if (!axis) c.error(node.pos, where + " lacks required parameter '" + s.name + "' (" + s.doc + ") of step '" + sub.type + "'");
    }
    spec.nodes.push_back(std::move(sub));
  }
}

void parse_node(Checker& c, const toml::key& idk, const toml::node& n, PipelineSpec& spec) {
  NodeSpec node;
  node.id = std::string(idk.str());
  node.pos = c.pos(idk);
  static const std::regex id_re("^[a-z][a-z0-9_]*$");
  if (node.id.size() > kMaxNodeIdBytes) {
    // It names the node's output folders, which the file system limits to 255 bytes.
    c.error(node.pos, "node id '" + clip(node.id, 80) + "' is " + std::to_string(node.id.size()) +
                          " bytes long; at most " + std::to_string(kMaxNodeIdBytes) + " are allowed");
    node.id = clip(node.id, 80);  // later messages quote it
  } else if (!std::regex_match(node.id, id_re)) {
    c.error(node.pos, "node id '" + node.id + "' must match [a-z][a-z0-9_]* (lower case, digits, underscores)");
  }
  if (node.id == "model")
    c.error(node.pos, "node id 'model' is reserved for the input model ([model] table)");
  const toml::table* t = n.as_table();
  if (!t) {
    c.error(c.pos(n), "[nodes." + node.id + "] must be a table, got " + toml_type_name(n));
    return;
  }
  const std::string where = "[nodes." + node.id + "]";
  // type first: the plugin's schema decides which other keys are valid.
  if (const toml::node* type = t->get("type")) {
    node.type = str_value(c, *type, where + " type");
    if (!node.type.empty()) {
      node.plugin = c.registry().find(node.type);
      if (!node.plugin) {
        c.error(c.pos(*type), "unknown plugin '" + clip(node.type) + "' in " + where + did_you_mean(node.type, c.registry().names("strategy")) +
                                  "; `slimpipe plugins` lists the plugins found");
      } else if (node.plugin->kind != "strategy" && node.plugin->kind != "composite") {
        c.error(c.pos(*type), "plugin '" + node.type + "' is a " + node.plugin->kind + " plugin; nodes need a strategy");
        node.plugin = nullptr;
      }
    }
  } else {
    c.error(node.pos, where + " has no 'type' (the strategy plugin to run)");
  }
  if (const toml::node* inputs = t->get("inputs")) {
    const toml::array* arr = inputs->as_array();
    if (!arr) {
      c.error(c.pos(*inputs), where + " inputs must be an array of node ids, got " + toml_type_name(*inputs));
    } else {
      for (const auto& e : *arr) {
        node.inputs.push_back(str_value(c, e, where + " inputs entry"));
        node.input_pos.push_back(c.pos(e));
      }
    }
  } else {
    c.error(node.pos, where + " has no 'inputs' (e.g. inputs = [\"model\"], or inputs = [] for a node that starts from nothing)");
  }
  if (const toml::node* col = t->get("collect")) node.collect = bool_value(c, *col, where + " collect").value_or(false);
  if (node.plugin && node.plugin->kind == "composite") {
    expand_composite(c, std::move(node), *t, spec);
    return;
  }

  std::vector<std::string> reserved = kNodeKeys;
  for (auto [kp, vp] : ordered(*t)) {
    const std::string key(kp->str());
    if (std::find(kNodeKeys.begin(), kNodeKeys.end(), key) != kNodeKeys.end()) continue;
    if (!node.plugin) {
      node.params[key] = to_json(*vp);
      continue;
    }
    if (vp->is_table() && !node.plugin->schema.find(key)) {
      c.error(c.pos(*kp), "unknown table '" + clip(key) + "' in " + where + did_you_mean(key, reserved) +
                              " (sub-tables must come after the node's own keys: TOML assigns later keys to them)");
      continue;
    }
    check_param(c, *node.plugin, key, *vp, c.pos(*kp), where, reserved);
    node.params[key] = to_json(*vp);
  }
  if (const toml::node* m = t->get("matrix")) {
    if (const toml::table* mt = m->as_table())
      parse_matrix(c, node, *mt);
    else
      c.error(c.pos(*m), where + " matrix must be a table, got " + toml_type_name(*m));
  }
  if (node.plugin) fan_out_lists(c, node, *t);
  // Required parameters must be set, either directly or by every matrix cell.
  if (node.plugin) {
    for (const auto& s : node.plugin->schema.specs()) {
      if (!s.required || node.params.contains(s.name)) continue;
      bool axis = std::any_of(node.matrix.axes.begin(), node.matrix.axes.end(),
                              [&](const MatrixAxis& a) { return a.key == s.name; });
      if (!axis) c.error(node.pos, where + " lacks required parameter '" + s.name + "' (" + s.doc + ")");
    }
  }
  spec.nodes.push_back(std::move(node));
}

void check_graph(Checker& c, PipelineSpec& spec) {
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < spec.nodes.size(); ++i)
    if (!index.emplace(spec.nodes[i].id, i).second)
      c.error(spec.nodes[i].pos, "node id '" + spec.nodes[i].id + "' is used twice (a composite node named '" +
                                     spec.nodes[i].id.substr(0, spec.nodes[i].id.rfind('_')) +
                                     "' creates it for one of its steps); rename one of them");
  std::vector<std::string> ids;
  for (const auto& n : spec.nodes) ids.push_back(n.id);
  ids.push_back("model");
  for (const auto& n : spec.nodes) {
    std::set<std::string> seen;
    for (std::size_t k = 0; k < n.inputs.size(); ++k) {
      const std::string& in = n.inputs[k];
      const SourcePos& ipos = n.input_pos[k];
      if (in.empty()) continue;
      if (!seen.insert(in).second) c.error(ipos, "[nodes." + n.id + "] lists input '" + in + "' twice");
      if (in == "model") {
        if (!spec.model_path) c.error(ipos, "[nodes." + n.id + "] takes input 'model' but the pipeline has no [model] path");
        continue;
      }
      if (!index.count(in))
        c.error(ipos, "[nodes." + n.id + "] takes input '" + clip(in) + "', which is not a node" + did_you_mean(in, ids));
    }
  }
  // Cycles: depth-first search; report each cycle once, at its first node.
  enum { White, Grey, Black };
  std::vector<int> color(spec.nodes.size(), White);
  std::vector<std::size_t> stack;
  std::function<void(std::size_t)> dfs = [&](std::size_t u) {
    color[u] = Grey;
    stack.push_back(u);
    for (const auto& in : spec.nodes[u].inputs) {
      auto it = index.find(in);
      if (it == index.end()) continue;
      std::size_t v = it->second;
      if (color[v] == Grey) {
        auto pos = std::find(stack.begin(), stack.end(), v);
        std::string cycle;
        for (auto p = pos; p != stack.end(); ++p) cycle += spec.nodes[*p].id + " <- ";
        cycle += spec.nodes[v].id;
        c.error(spec.nodes[v].pos, "cycle in inputs: " + cycle);
      } else if (color[v] == White) {
        dfs(v);
      }
    }
    stack.pop_back();
    color[u] = Black;
  };
  for (std::size_t i = 0; i < spec.nodes.size(); ++i)
    if (color[i] == White) dfs(i);
}

}  // namespace

Json resolve_path_params(const Schema& schema, Json params, const fs::path& base) {
  for (const auto& s : schema.specs()) {
    if (s.type != ParamType::Path || !params.contains(s.name) || !params[s.name].is_string()) continue;
    const fs::path p(params[s.name].get<std::string>());
    if (!p.empty() && p.is_relative()) params[s.name] = (base / p).lexically_normal().string();
  }
  return params;
}

const std::vector<std::string>& reserved_node_keys() { return kNodeKeys; }

bool pipeline_keys_within_limits(std::string_view text) { return !overlong_key(text, "").has_value(); }

const NodeSpec* PipelineSpec::find_node(const std::string& id) const {
  for (const auto& n : nodes)
    if (n.id == id) return &n;
  return nullptr;
}

PipelineSpec parse_pipeline(const std::string& text, const fs::path& file, const std::vector<std::string>& overrides,
                            const PluginRegistry& registry) {
  Checker c(file, registry);
  if (auto bad = overlong_key(text, file.string())) throw SpecError({Diagnostic{bad->first, bad->second}});
  toml::table root;
  try {
    root = toml::parse(text, file.string());
  } catch (const toml::parse_error& e) {
    const auto& b = e.source().begin;
    throw SpecError({Diagnostic{SourcePos{file.string(), static_cast<int>(b.line), static_cast<int>(b.column)},
                                "TOML syntax error: " + clip(e.description())}});
  }
  for (const auto& o : overrides) apply_override(root, o);
  check_nesting(c, root);
  interpolate_env(c, root);

  PipelineSpec spec;
  spec.file = file;
  spec.base_dir = file.has_parent_path() ? file.parent_path() : fs::path(".");
  spec.name = file.stem().string();
  check_keys(c, root, kTopKeys, "the pipeline file");

  auto require_table = [&](const char* key) -> const toml::table* {
    const toml::node* n = root.get(key);
    if (!n) return nullptr;
    if (!n->is_table()) {
      c.error(c.pos(*n), std::string("[") + key + "] must be a table, got " + toml_type_name(*n));
      return nullptr;
    }
    return n->as_table();
  };

  std::optional<std::string> output_dir;
  if (const toml::table* p = require_table("pipeline")) {
    check_keys(c, *p, kPipelineKeys, "[pipeline]");
    if (auto* n = p->get("name")) spec.name = str_value(c, *n, "pipeline.name");
    if (auto* n = p->get("output_dir")) output_dir = str_value(c, *n, "pipeline.output_dir");
    if (auto* n = p->get("max_parallel"))
      spec.max_parallel = static_cast<int>(int_value(c, *n, "pipeline.max_parallel", 1, kMaxParallel).value_or(1));
    if (auto* n = p->get("threads_per_instance"))
      spec.threads_per_instance =
          static_cast<int>(int_value(c, *n, "pipeline.threads_per_instance", 0, kMaxThreadsPerInstance).value_or(0));
    if (auto* n = p->get("fail_fast")) spec.fail_fast = bool_value(c, *n, "pipeline.fail_fast").value_or(false);
    if (auto* n = p->get("seed")) spec.seed = static_cast<std::uint64_t>(int_value(c, *n, "pipeline.seed", 0).value_or(42));
    if (auto* n = p->get("device")) {
      spec.device = str_value(c, *n, "pipeline.device");
      static const std::regex dev_re("^(cpu|cuda(:[0-9]+)?)$");
      // Length first: std::regex recurses per character (a 100 kB "cuda:111..." overflowed the stack).
      if (!spec.device.empty() && (spec.device.size() > 16 || !std::regex_match(spec.device, dev_re))) {
        c.error(c.pos(*n), "pipeline.device must be \"cpu\", \"cuda\" or \"cuda:N\", got \"" + clip(spec.device) + "\"");
      } else if (spec.device.rfind("cuda", 0) == 0) {
        // Here, not in the middle of a run with a LibTorch backtrace.
        const std::string what = "pipeline.device = \"" + spec.device + "\": ";
        const int gpus = cuda_device_count();
        const std::size_t colon = spec.device.find(':');
        if (!cuda_built())
          c.error(c.pos(*n), what + "this build of slimpipe has no CUDA (LibTorch CPU only); use \"cpu\"");
        else if (!cuda_available())
          c.error(c.pos(*n), what + "no CUDA device is visible; use \"cpu\"");
        else if (colon != std::string::npos && (spec.device.size() - colon > 4 || std::stoi(spec.device.substr(colon + 1)) >= gpus))
          c.error(c.pos(*n), what + "only " + std::to_string(gpus) + " CUDA device" + (gpus == 1 ? " is" : "s are") +
                                 " visible (cuda:0 to cuda:" + std::to_string(gpus - 1) + ")");
      }
    }
    if (auto* n = p->get("description")) str_value(c, *n, "pipeline.description");
  }
  spec.output_dir = resolve_path(spec.base_dir, output_dir.value_or("runs/" + spec.name));

  if (const toml::table* m = require_table("model")) {
    check_keys(c, *m, kModelKeys, "[model]");
    if (auto* n = m->get("path")) {
      std::string p = str_value(c, *n, "model.path");
      if (!p.empty()) spec.model_path = resolve_path(spec.base_dir, p);
    } else {
      c.error(c.pos(*m), "[model] has no 'path' (a Hugging Face model folder)");
    }
  }

  if (const toml::table* t = require_table("task")) {
    TaskSpec task;
    task.pos = c.pos(*t);
    if (auto* n = t->get("type")) {
      task.type = str_value(c, *n, "task.type");
      task.plugin = registry.find(task.type);
      if (!task.plugin && !task.type.empty())
        c.error(c.pos(*n), "unknown task plugin '" + clip(task.type) + "'" + did_you_mean(task.type, registry.names("task")));
      else if (task.plugin && task.plugin->kind != "task") {
        c.error(c.pos(*n), "plugin '" + task.type + "' is a " + task.plugin->kind + " plugin; [task] needs a task plugin");
        task.plugin = nullptr;
      }
    } else {
      c.error(task.pos, "[task] has no 'type' (seq_cls, token_cls, qa or another task plugin)");
    }
    for (auto [kp, vp] : ordered(*t)) {
      std::string key(kp->str());
      if (key == "type") continue;
      if (task.plugin) check_param(c, *task.plugin, key, *vp, c.pos(*kp), "[task]", {"type"});
      task.params[key] = to_json(*vp);
    }
    if (task.plugin)
      for (const auto& s : task.plugin->schema.specs())
        if (s.required && !task.params.contains(s.name))
          c.error(task.pos, "[task] lacks required parameter '" + s.name + "' (" + s.doc + ")");
    spec.task = std::move(task);
  }

  if (const toml::node* nodes = root.get("nodes")) {
    if (const toml::table* nt = nodes->as_table()) {
      if (nt->empty()) c.error(c.pos(*nodes), "[nodes] is empty; add [nodes.<id>] tables");
      for (auto [kp, vp] : ordered(*nt)) parse_node(c, *kp, *vp, spec);
    } else {
      c.error(c.pos(*nodes), "nodes must be a table of [nodes.<id>] tables");
    }
  } else {
    c.error(SourcePos{file.string(), 1, 1}, "the pipeline has no [nodes.<id>] tables, so there is nothing to run");
  }
  check_graph(c, spec);
  if (!c.diags().empty()) throw SpecError(std::move(c.diags()));
  return spec;
}

PipelineSpec load_pipeline(const fs::path& file, const std::vector<std::string>& overrides,
                           const PluginRegistry& registry) {
  std::error_code ec;
  if (fs::is_directory(file, ec)) throw UsageError(file.string() + ": is a directory, expected a file");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw UsageError(file.string() + ": cannot open pipeline file (" + std::strerror(errno) + ")");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_pipeline(ss.str(), file, overrides, registry);
}

}  // namespace slimpipe::core
