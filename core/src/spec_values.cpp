// The pipeline checker's values (spec_detail.hpp): TOML values as JSON, key checks, size and nesting limits,
// ${ENV} interpolation, --set overrides, typed values and parameter checks against a plugin's schema.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "slimpipe/cuda.hpp"
#include "spec_detail.hpp"

namespace slimpipe::core::spec {

const char* toml_type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table:
      return "table";
    case toml::node_type::array:
      return "array";
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "boolean";
    default:
      return "date/time";
  }
}

Json to_json(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return n.as_string()->get();
    case toml::node_type::integer:
      return n.as_integer()->get();
    case toml::node_type::floating_point:
      return n.as_floating_point()->get();
    case toml::node_type::boolean:
      return n.as_boolean()->get();
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
        if constexpr (toml::is_date<decltype(v)> || toml::is_time<decltype(v)> || toml::is_date_time<decltype(v)>)
          ss << v;
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
      if (multi)
        end_run();
      else
        start_run();  // a multi-line string is a value, never a key
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
  std::vector<std::size_t> pending{0};
  while (!pending.empty()) {
    const std::size_t idx = pending.back();
    pending.pop_back();
    const toml::node* node = items[idx].node;
    const int depth = items[idx].depth;
    if (depth > kMaxNesting) {
      std::vector<const std::string*> parts;
      for (std::size_t k = idx; k != none && items[k].parent != none; k = items[k].parent)
        parts.push_back(&items[k].key);
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
        pending.push_back(items.size() - 1);
      }
    } else if (const toml::array* a = node->as_array()) {
      for (std::size_t j = 0; j < a->size(); ++j) {
        items.push_back({a->get(j), depth + 1, idx, "[" + std::to_string(j) + "]"});
        pending.push_back(items.size() - 1);
      }
    }
  }
}

// The ${NAME} or ${NAME:-default} starting at `at` (where "${" is), as the pattern
// \$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\} matches it: one past its '}', or npos. A scan, not std::regex:
// libstdc++'s matcher recurses once per character and overflowed the stack on a 100 kB ${...} string.
std::size_t match_env_var(const std::string& in, std::size_t at, std::string& name,
                          std::optional<std::string>& fallback) {
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
  if (auto bad = overlong_key(value, "--set")) throw UsageError(where + ": the value's " + bad->second);
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
                                      std::optional<std::int64_t> max) {
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
  if (const std::string* instead = spec ? nullptr : plugin.schema.retired_hint(key)) {
    c.error(key_pos,
            "'" + key + "' in " + where + " is no longer a parameter of plugin '" + plugin.name + "': " + *instead);
    return;
  }
  if (!spec) {
    for (const auto& s : plugin.schema.specs()) extra_keys.push_back(s.name);
    c.error(key_pos, "unknown key '" + clip(key) + "' in " + where + " (plugin '" + plugin.name +
                         "' has no such parameter)" + did_you_mean(key, extra_keys));
    return;
  }
  std::string err = Schema::check(*spec, to_json(value));
  if (!err.empty()) c.error(c.pos(value), "parameter '" + key + "' of " + where + ": " + err);
}

}  // namespace slimpipe::core::spec
