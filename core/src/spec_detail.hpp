// The pipeline checker's internals, shared by pipeline_spec.cpp (the file: top-level tables, [pipeline],
// [model], [task]), spec_values.cpp (TOML values, ${ENV} interpolation, --set overrides, size limits, parameter
// checks) and spec_nodes.cpp (nodes: matrices, fan-out lists, composites, the graph). Every problem goes to the
// Checker with its position; nothing throws until the whole file has been read.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "slimpipe/core/diagnostics.hpp"
#include "slimpipe/core/pipeline_spec.hpp"
#include "slimpipe/data/text_file.hpp"

namespace slimpipe::core::spec {

// Users' text (keys, values) as error messages quote it: at most about 200 bytes, then "…".
inline std::string clip(std::string_view s, std::size_t max_bytes = 200) {
  return data::clip_for_message(s, max_bytes);
}

inline const std::vector<std::string> kTopKeys = {"pipeline", "model", "task", "nodes"};
inline const std::vector<std::string> kPipelineKeys = {
    "name", "output_dir", "max_parallel", "threads_per_instance", "fail_fast", "seed", "device", "description"};
inline const std::vector<std::string> kModelKeys = {"path"};
inline constexpr std::int64_t kMaxThreadsPerInstance = 1024;
inline constexpr std::size_t kMaxNodeIdBytes = 128;
inline const std::vector<std::string> kNodeKeys = {"type", "inputs", "collect", "matrix", "description"};

// Collects every problem with its position.
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

const char* toml_type_name(const toml::node& n);

Json to_json(const toml::node& n);

// Table entries in file order (TOML++ keeps them sorted by key); overrides come last.
std::vector<std::pair<const toml::key*, const toml::node*>> ordered(const toml::table& t);

void check_keys(Checker& c, const toml::table& t, const std::vector<std::string>& allowed, const std::string& where);

// The first key or table header in `text` with more than kMaxKeyParts dotted parts, found before TOML++
// parses it: its parser (3.3) has no limit there and overflows the stack on keys of ~100k parts. A light
// lexer: strings and comments are skipped; a run of bare keys, quoted keys and dots is a key (a float such
// as 1.5 is a run of one dot). Returns a message naming the key, and its position.
std::optional<std::pair<SourcePos, std::string>> overlong_key(std::string_view text, const std::string& file);

// Tables and arrays nested deeper than kMaxNesting (a deep header with a deep dotted key under it, inline
// tables, --set paths) are refused before anything walks the document recursively. Iterative.
void check_nesting(Checker& c, const toml::table& root);

// Replaces ${NAME} and ${NAME:-default} in every string of the document.
void interpolate_env(Checker& c, toml::node& n);

// --set a.b.c=value: the value is parsed as a TOML value when it is one, else taken as a string.
// A malformed --set is a usage error (exit status 2).
void apply_override(toml::table& root, const std::string& spec);

std::string str_value(Checker& c, const toml::node& n, const std::string& what);

std::optional<std::int64_t> int_value(Checker& c, const toml::node& n, const std::string& what, std::int64_t min,
                                      std::optional<std::int64_t> max = std::nullopt);

std::optional<bool> bool_value(Checker& c, const toml::node& n, const std::string& what);

fs::path resolve_path(const fs::path& base, const std::string& p);

// Checks one parameter value (or matrix value) against a plugin schema.
void check_param(Checker& c, const PluginInfo& plugin, const std::string& key, const toml::node& value,
                 const SourcePos& key_pos, const std::string& where, std::vector<std::string> extra_keys);

void parse_node(Checker& c, const toml::key& idk, const toml::node& n, PipelineSpec& spec);

void check_graph(Checker& c, PipelineSpec& spec);

}  // namespace slimpipe::core::spec
