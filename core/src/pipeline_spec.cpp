// Parsing and checking of pipeline files. The checks run to completion and collect every problem
// as `file:line:col: message`; nothing runs until the whole file is clean.
#include "slimpipe/core/pipeline_spec.hpp"

#include <toml++/toml.h>

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

#include "slimpipe/cuda.hpp"
#include "slimpipe/data/text_file.hpp"
#include "spec_detail.hpp"

namespace slimpipe::core {

using namespace spec;  // the checker's internals (spec_detail.hpp)

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

namespace {

// root[key] when it is a table; nothing (an error reported when it is something else) otherwise.
const toml::table* require_table(Checker& c, const toml::table& root, const char* key) {
  const toml::node* n = root.get(key);
  if (!n) return nullptr;
  if (!n->is_table()) {
    c.error(c.pos(*n), std::string("[") + key + "] must be a table, got " + toml_type_name(*n));
    return nullptr;
  }
  return n->as_table();
}

// pipeline.device: "cpu", "cuda" or "cuda:N", and a CUDA device that this build and host have.
void parse_device(Checker& c, const toml::node& n, PipelineSpec& spec) {
  spec.device = str_value(c, n, "pipeline.device");
  static const std::regex dev_re("^(cpu|cuda(:[0-9]+)?)$");
  // Length first: std::regex recurses per character (a 100 kB "cuda:111..." overflowed the stack).
  if (!spec.device.empty() && (spec.device.size() > 16 || !std::regex_match(spec.device, dev_re))) {
    c.error(c.pos(n), "pipeline.device must be \"cpu\", \"cuda\" or \"cuda:N\", got \"" + clip(spec.device) + "\"");
  } else if (spec.device.rfind("cuda", 0) == 0) {
    // Here, not in the middle of a run with a LibTorch backtrace.
    const std::string what = "pipeline.device = \"" + spec.device + "\": ";
    const int gpus = cuda_device_count();
    const std::size_t colon = spec.device.find(':');
    if (!cuda_built())
      c.error(c.pos(n), what + "this build of slimpipe has no CUDA (LibTorch CPU only); use \"cpu\"");
    else if (!cuda_available())
      c.error(c.pos(n), what + "no CUDA device is visible; use \"cpu\"");
    else if (colon != std::string::npos &&
             (spec.device.size() - colon > 4 || std::stoi(spec.device.substr(colon + 1)) >= gpus))
      c.error(c.pos(n), what + "only " + std::to_string(gpus) + " CUDA device" + (gpus == 1 ? " is" : "s are") +
                            " visible (cuda:0 to cuda:" + std::to_string(gpus - 1) + ")");
  }
}

// [pipeline]: returns pipeline.output_dir when it is set.
std::optional<std::string> parse_pipeline_table(Checker& c, const toml::table& p, PipelineSpec& spec) {
  std::optional<std::string> output_dir;
  check_keys(c, p, kPipelineKeys, "[pipeline]");
  if (auto* n = p.get("name")) spec.name = str_value(c, *n, "pipeline.name");
  if (auto* n = p.get("output_dir")) output_dir = str_value(c, *n, "pipeline.output_dir");
  if (auto* n = p.get("max_parallel"))
    spec.max_parallel = static_cast<int>(int_value(c, *n, "pipeline.max_parallel", 1, kMaxParallel).value_or(1));
  if (auto* n = p.get("threads_per_instance"))
    spec.threads_per_instance =
        static_cast<int>(int_value(c, *n, "pipeline.threads_per_instance", 0, kMaxThreadsPerInstance).value_or(0));
  if (auto* n = p.get("fail_fast")) spec.fail_fast = bool_value(c, *n, "pipeline.fail_fast").value_or(false);
  if (auto* n = p.get("seed"))
    spec.seed = static_cast<std::uint64_t>(int_value(c, *n, "pipeline.seed", 0).value_or(42));
  if (auto* n = p.get("device")) parse_device(c, *n, spec);
  if (auto* n = p.get("description")) str_value(c, *n, "pipeline.description");
  return output_dir;
}

void parse_model_table(Checker& c, const toml::table& m, PipelineSpec& spec) {
  check_keys(c, m, kModelKeys, "[model]");
  if (auto* n = m.get("path")) {
    std::string p = str_value(c, *n, "model.path");
    if (!p.empty()) spec.model_path = resolve_path(spec.base_dir, p);
  } else {
    c.error(c.pos(m), "[model] has no 'path' (a Hugging Face model folder)");
  }
}

void parse_task_table(Checker& c, const toml::table& t, const PluginRegistry& registry, PipelineSpec& spec) {
  TaskSpec task;
  task.pos = c.pos(t);
  if (auto* n = t.get("type")) {
    task.type = str_value(c, *n, "task.type");
    task.plugin = registry.find(task.type);
    if (!task.plugin && !task.type.empty())
      c.error(c.pos(*n),
              "unknown task plugin '" + clip(task.type) + "'" + did_you_mean(task.type, registry.names("task")));
    else if (task.plugin && task.plugin->kind != "task") {
      c.error(c.pos(*n),
              "plugin '" + task.type + "' is a " + task.plugin->kind + " plugin; [task] needs a task plugin");
      task.plugin = nullptr;
    }
  } else {
    c.error(task.pos, "[task] has no 'type' (seq_cls, token_cls, qa or another task plugin)");
  }
  for (auto [kp, vp] : ordered(t)) {
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

void parse_nodes_table(Checker& c, const toml::table& root, const fs::path& file, PipelineSpec& spec) {
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
}

}  // namespace

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

  std::optional<std::string> output_dir;
  if (const toml::table* p = require_table(c, root, "pipeline")) output_dir = parse_pipeline_table(c, *p, spec);
  spec.output_dir = resolve_path(spec.base_dir, output_dir.value_or("runs/" + spec.name));
  if (const toml::table* m = require_table(c, root, "model")) parse_model_table(c, *m, spec);
  if (const toml::table* t = require_table(c, root, "task")) parse_task_table(c, *t, registry, spec);
  parse_nodes_table(c, root, file, spec);
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
