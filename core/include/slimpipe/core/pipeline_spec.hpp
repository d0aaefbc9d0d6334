// A pipeline file (TOML) parsed and checked against the loaded plugins' schemas. Every problem is
// collected with its position and reported at once, before anything runs.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "slimpipe/core/diagnostics.hpp"
#include "slimpipe/core/plugin_registry.hpp"
#include "slimpipe/params.hpp"

namespace slimpipe::core {

// pipeline.max_parallel and --max-parallel: instances in flight at once, 1 to kMaxParallel.
constexpr int kMaxParallel = 256;
// Keys, table headers and --set key paths have at most kMaxKeyParts parts, and tables and arrays
// nest at most kMaxNesting levels, so that no recursive walk over a pipeline can exhaust the stack.
constexpr int kMaxKeyParts = 64;
constexpr int kMaxNesting = 64;

struct MatrixAxis {
  std::string key;
  std::vector<Json> values;
};

struct MatrixSpec {
  std::vector<MatrixAxis> axes;                                    // in the order they appear in the file
  std::vector<std::vector<std::pair<std::string, Json>>> include;  // GitHub Actions semantics
  std::vector<std::vector<std::pair<std::string, Json>>> exclude;
  SourcePos pos;
  bool empty() const { return axes.empty() && include.empty(); }
};

struct NodeSpec {
  std::string id;
  std::string type;  // plugin name
  std::vector<std::string> inputs;
  std::vector<SourcePos> input_pos;  // parallel to inputs
  bool collect = false;
  Json params = Json::object();  // everything but the reserved keys
  MatrixSpec matrix;
  SourcePos pos;
  const PluginInfo* plugin = nullptr;
};

struct TaskSpec {
  std::string type;
  Json params = Json::object();
  SourcePos pos;
  const PluginInfo* plugin = nullptr;
};

struct PipelineSpec {
  fs::path file;
  fs::path base_dir;  // relative paths are resolved against the pipeline file's folder
  std::string name;
  fs::path output_dir;
  int max_parallel = 1;
  int threads_per_instance = 0;  // 0: cores / max_parallel
  bool fail_fast = false;
  std::uint64_t seed = 42;
  std::string device = "cpu";
  std::optional<fs::path> model_path;
  std::optional<TaskSpec> task;
  std::vector<NodeSpec> nodes;  // in file order

  const NodeSpec* find_node(const std::string& id) const;
};

// The Path parameters of `schema` in `params` made absolute against `base` (the pipeline file's folder);
// "" stays "". The one place relative data and model paths are resolved (plan, run, cache decision).
Json resolve_path_params(const Schema& schema, Json params, const fs::path& base);

// Reads, interpolates ${ENV}, applies `--set key.path=value` overrides and checks the pipeline.
// Throws SpecError listing every problem found, UsageError for a malformed --set or a pipeline path
// that is missing or a folder.
PipelineSpec load_pipeline(const fs::path& file, const std::vector<std::string>& overrides,
                           const PluginRegistry& registry);

// Same, from text (the file name is used in messages and for relative paths).
PipelineSpec parse_pipeline(const std::string& text, const fs::path& file, const std::vector<std::string>& overrides,
                            const PluginRegistry& registry);

// Whether TOML++ may parse `text`: no key or table header has more dotted parts than the limit (its parser
// recurses per part and overflows the stack near 100k). Anything that parses a pipeline file checks this first.
bool pipeline_keys_within_limits(std::string_view text);

// Keys a [nodes.<id>] table may hold besides the plugin's parameters.
const std::vector<std::string>& reserved_node_keys();

}  // namespace slimpipe::core
