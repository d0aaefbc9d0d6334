// Expansion of a checked pipeline into instances: matrices become grid cells with stable ids,
// nodes fan out per upstream artifact (or collect them all), and the instance DAG is built with
// Boost.Graph.
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "slimpipe/core/pipeline_spec.hpp"

namespace slimpipe::core {

// One coordinate of an instance: a matrix value (key != "") or an upstream output name (key "").
struct Coord {
  std::string node;
  std::string key;
  std::string value;  // rendered: strings as is, numbers and booleans as in TOML
  bool operator==(const Coord& o) const { return node == o.node && key == o.key && value == o.value; }
};

struct ArtifactRef {
  std::size_t instance;
  std::string output;  // "" for the default output
};

constexpr std::size_t kNoNode = std::numeric_limits<std::size_t>::max();

struct Instance {
  std::string id;                // "quant@prune=width_0.75,algo=KL,batch_size=4"
  std::size_t node = kNoNode;    // index into PipelineSpec::nodes; kNoNode for the input model
  std::vector<Coord> coords;     // inherited from upstream first, then the node's own matrix cell
  Json params = Json::object();  // resolved: schema defaults applied, paths made absolute
  std::vector<std::string> outputs;
  std::vector<ArtifactRef> inputs;
  std::vector<std::size_t> upstream;    // distinct instances this one reads
  std::vector<std::size_t> downstream;  // distinct instances reading this one
  fs::path dir;                         // where its artifacts go

  bool is_model() const { return node == kNoNode; }
  fs::path output_dir(const std::string& output) const { return output.empty() ? dir : dir / output; }
};

struct Plan {
  std::vector<Instance> instances;  // in topological order
  // Instances whose id equals `selector`, or whose node id does. Empty when none.
  std::vector<std::size_t> match(const std::string& selector) const;
  // The selected instances and everything downstream of them.
  std::vector<std::size_t> descendants(const std::vector<std::size_t>& roots) const;
  std::vector<std::string> ids() const;
};

// Throws SpecError (e.g. duplicate instance ids, parameters rejected by a plugin's schema).
Plan make_plan(const PipelineSpec& spec);

// Expands one matrix into cells (GitHub Actions semantics: cross product, then exclude, then
// include). Each cell is an ordered list of key/value pairs.
std::vector<std::vector<std::pair<std::string, Json>>> expand_matrix(const MatrixSpec& m);

std::string render_value(const Json& v);

}  // namespace slimpipe::core
