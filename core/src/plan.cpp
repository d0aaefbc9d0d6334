// Matrix expansion, fan-out over upstream artifacts and the instance DAG.
#include "slimpipe/core/plan.hpp"

#include <algorithm>
#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/topological_sort.hpp>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "slimpipe/strategy.hpp"

namespace slimpipe::core {

namespace {

using Cell = std::vector<std::pair<std::string, Json>>;
using Digraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS>;

const Json* cell_get(const Cell& c, const std::string& k) {
  for (const auto& [ck, cv] : c)
    if (ck == k) return &cv;
  return nullptr;
}

bool matches(const Cell& cell, const Cell& pattern) {
  for (const auto& [k, v] : pattern) {
    const Json* have = cell_get(cell, k);
    if (!have || *have != v) return false;
  }
  return true;
}

// A directory name for an instance: its coordinates, with characters that are unsafe in paths
// replaced.
std::string dir_name(const std::string& tag) {
  std::string out;
  for (char ch : tag) out += (ch == '/' || ch == '\\' || ch == ' ' || ch == '\0') ? '_' : ch;
  return out;
}

std::string render_coords(const std::vector<Coord>& coords) {
  // A key is shown bare unless two coordinates share it; then it is qualified by its node.
  std::unordered_map<std::string, int> seen;
  for (const auto& c : coords) ++seen[c.key.empty() ? c.node : c.key];
  std::string out;
  for (const auto& c : coords) {
    std::string key = c.key.empty() ? c.node : c.key;
    if (seen[key] > 1 && !c.key.empty()) key = c.node + "." + c.key;
    out += (out.empty() ? "" : ",") + key + "=" + c.value;
  }
  return out;
}

// Combines the coordinates of several upstream artifacts; false when two disagree (artifacts
// from different branches of the same fan-out are never paired).
bool merge_coords(std::vector<Coord>& into, const std::vector<Coord>& more) {
  for (const auto& c : more) {
    auto it =
        std::find_if(into.begin(), into.end(), [&](const Coord& x) { return x.node == c.node && x.key == c.key; });
    if (it == into.end())
      into.push_back(c);
    else if (it->value != c.value)
      return false;
  }
  return true;
}

}  // namespace

std::string render_value(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::vector<Cell> expand_matrix(const MatrixSpec& m) {
  std::vector<Cell> cells;
  if (!m.axes.empty()) {
    cells.push_back({});
    for (const auto& axis : m.axes) {
      std::vector<Cell> next;
      next.reserve(cells.size() * axis.values.size());
      for (const auto& c : cells)
        for (const auto& v : axis.values) {
          Cell n = c;
          n.emplace_back(axis.key, v);
          next.push_back(std::move(n));
        }
      cells.swap(next);
    }
    cells.erase(std::remove_if(cells.begin(), cells.end(),
                               [&](const Cell& c) {
                                 return std::any_of(m.exclude.begin(), m.exclude.end(),
                                                    [&](const Cell& ex) { return matches(c, ex); });
                               }),
                cells.end());
  }
  const std::size_t original = cells.size();
  auto is_axis = [&](const std::string& k) {
    return std::any_of(m.axes.begin(), m.axes.end(), [&](const MatrixAxis& a) { return a.key == k; });
  };
  for (const auto& inc : m.include) {
    bool extended = false;
    for (std::size_t i = 0; i < original; ++i) {
      Cell& c = cells[i];
      // An include entry extends every cell whose original (axis) values it does not overwrite.
      bool fits = std::all_of(inc.begin(), inc.end(), [&](const auto& kv) {
        if (!is_axis(kv.first)) return true;
        const Json* have = cell_get(c, kv.first);
        return have && *have == kv.second;
      });
      if (!fits) continue;
      extended = true;
      for (const auto& [k, v] : inc) {
        const std::string& key = k;  // clang 14 cannot capture a structured binding in a lambda
        auto it = std::find_if(c.begin(), c.end(), [&](const auto& x) { return x.first == key; });
        if (it == c.end())
          c.emplace_back(k, v);
        else
          it->second = v;
      }
    }
    if (!extended) cells.push_back(inc);
  }
  return cells;
}

std::vector<std::size_t> Plan::match(const std::string& selector) const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < instances.size(); ++i) {
    const auto& in = instances[i];
    if (in.id == selector) return {i};
    auto at = in.id.find('@');
    if (in.id.substr(0, at) == selector) out.push_back(i);
  }
  return out;
}

std::vector<std::size_t> Plan::descendants(const std::vector<std::size_t>& roots) const {
  Digraph g(instances.size());
  for (std::size_t i = 0; i < instances.size(); ++i)
    for (std::size_t d : instances[i].downstream) boost::add_edge(i, d, g);
  std::vector<boost::default_color_type> color(instances.size(), boost::white_color);
  auto cmap = boost::make_iterator_property_map(color.begin(), boost::get(boost::vertex_index, g));
  for (std::size_t r : roots)
    if (color[r] == boost::white_color) boost::breadth_first_visit(g, r, boost::color_map(cmap));
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < instances.size(); ++i)
    if (color[i] != boost::white_color) out.push_back(i);
  return out;
}

std::vector<std::string> Plan::ids() const {
  std::vector<std::string> out;
  for (const auto& i : instances) out.push_back(i.id);
  return out;
}

namespace {

// An upstream artifact, with the coordinates that identify it.
struct Upstream {
  ArtifactRef ref;
  std::vector<Coord> coords;
};

// The artifacts one instance reads, and the coordinates they agree on.
using InputGroup = std::pair<std::vector<ArtifactRef>, std::vector<Coord>>;

// Nodes in dependency order (Boost.Graph topological sort over the node graph).
std::vector<std::size_t> node_order(const PipelineSpec& spec,
                                    const std::unordered_map<std::string, std::size_t>& node_index) {
  Digraph ng(spec.nodes.size());
  for (std::size_t i = 0; i < spec.nodes.size(); ++i)
    for (const auto& in : spec.nodes[i].inputs)
      if (auto it = node_index.find(in); it != node_index.end()) boost::add_edge(it->second, i, ng);
  std::vector<std::size_t> rev;
  boost::topological_sort(ng, std::back_inserter(rev));
  return std::vector<std::size_t>(rev.rbegin(), rev.rend());
}

// Input groups: one per consistent combination, or a single group of everything (collect).
std::vector<InputGroup> input_groups(const NodeSpec& node, const std::vector<std::vector<Upstream>>& per_input) {
  std::vector<InputGroup> groups;
  if (node.collect) {
    std::vector<ArtifactRef> all;
    for (const auto& ups : per_input)
      for (const auto& u : ups) all.push_back(u.ref);
    groups.push_back({all, {}});
    return groups;
  }
  groups.push_back({{}, {}});
  for (const auto& ups : per_input) {
    std::vector<InputGroup> next;
    for (const auto& g : groups)
      for (const auto& u : ups) {
        auto coords = g.second;
        if (!merge_coords(coords, u.coords)) continue;
        auto refs = g.first;
        refs.push_back(u.ref);
        next.push_back({std::move(refs), std::move(coords)});
      }
    groups.swap(next);
  }
  return groups;
}

// The instances of a pipeline as they are made, node by node, and the problems found on the way.
struct PlanBuilder {
  const PipelineSpec& spec;
  std::vector<Diagnostic> diags;
  std::vector<Instance> insts;
  std::unordered_map<std::string, std::size_t> by_id;
  std::vector<std::vector<std::size_t>> node_instances;
  std::unordered_map<std::string, std::size_t> node_index;
  std::size_t model_index = kNoNode;

  explicit PlanBuilder(const PipelineSpec& s) : spec(s), node_instances(s.nodes.size()) {
    for (std::size_t i = 0; i < spec.nodes.size(); ++i) node_index[spec.nodes[i].id] = i;
  }

  void add_model() {
    Instance m;
    m.id = "model";
    m.outputs = {""};
    m.dir = *spec.model_path;
    m.params = {{"path", spec.model_path->string()}};
    model_index = insts.size();
    by_id["model"] = model_index;
    insts.push_back(std::move(m));
  }

  // Upstream artifacts per input of `node`, each with the coordinates that identify it.
  std::vector<std::vector<Upstream>> upstreams(const NodeSpec& node) const {
    std::vector<std::vector<Upstream>> per_input;
    for (const auto& in : node.inputs) {
      std::vector<Upstream> ups;
      if (in == "model") {
        ups.push_back({{model_index, ""}, {}});
      } else {
        std::size_t src = node_index.at(in);
        for (std::size_t ui : node_instances[src]) {
          for (const auto& out : insts[ui].outputs) {
            Upstream u{{ui, out}, insts[ui].coords};
            if (!out.empty()) u.coords.push_back({in, "", out});
            ups.push_back(std::move(u));
          }
        }
      }
      per_input.push_back(std::move(ups));
    }
    return per_input;
  }

  // Resolves the instance's parameters and outputs; false (a diagnostic recorded) when they are refused.
  bool resolve(const NodeSpec& node, const Strategy& strategy, const Json& values, Instance& inst) {
    try {
      Params resolved = resolve_params(node.plugin->schema, values, "[nodes." + node.id + "] instance " + inst.id);
      inst.params = resolve_path_params(node.plugin->schema, resolved.json(), spec.base_dir);
      inst.outputs = strategy.outputs(resolved);
      return true;
    } catch (const std::exception& e) {
      // Every cell of a matrix may refuse the same way: one line per distinct message and place.
      const bool seen = std::any_of(diags.begin(), diags.end(), [&](const Diagnostic& d) {
        return d.message == e.what() && d.pos.line == node.pos.line && d.pos.col == node.pos.col;
      });
      if (!seen) diags.push_back({node.pos, e.what()});
      return false;
    }
  }

  // The instance of node `ni` for one input group and one matrix cell.
  void add_instance(std::size_t ni, const Strategy& strategy, const InputGroup& group, const Cell& cell) {
    const NodeSpec& node = spec.nodes[ni];
    const auto& [refs, coords] = group;
    Instance inst;
    inst.node = ni;
    inst.coords = coords;
    Json values = node.params;
    for (const auto& [k, v] : cell) {
      inst.coords.push_back({node.id, k, render_value(v)});
      values[k] = v;
    }
    std::string tag = render_coords(inst.coords);
    inst.id = tag.empty() ? node.id : node.id + "@" + tag;
    inst.dir = spec.output_dir / node.id;
    if (!tag.empty()) inst.dir /= dir_name(tag);
    inst.inputs = refs;
    if (!resolve(node, strategy, values, inst)) return;
    std::unordered_set<std::string> names;
    for (const auto& o : inst.outputs)
      if (!names.insert(o).second)
        diags.push_back({node.pos, "instance " + inst.id + " declares output '" + o + "' twice"});
    if (by_id.count(inst.id)) {
      diags.push_back({node.matrix.pos.line ? node.matrix.pos : node.pos,
                       "matrix of [nodes." + node.id + "] produces instance '" + inst.id + "' twice"});
      return;
    }
    std::size_t idx = insts.size();
    by_id[inst.id] = idx;
    for (const auto& r : refs) {
      if (std::find(inst.upstream.begin(), inst.upstream.end(), r.instance) == inst.upstream.end())
        inst.upstream.push_back(r.instance);
    }
    node_instances[ni].push_back(idx);
    insts.push_back(std::move(inst));
  }

  void add_node(std::size_t ni) {
    const NodeSpec& node = spec.nodes[ni];
    auto strategy = PluginRegistry::create_strategy(*node.plugin);
    const std::vector<InputGroup> groups = input_groups(node, upstreams(node));
    std::vector<Cell> cells = expand_matrix(node.matrix);
    if (cells.empty()) cells.push_back({});
    for (const auto& group : groups)
      for (const auto& cell : cells) add_instance(ni, *strategy, group, cell);
  }
};

}  // namespace

Plan make_plan(const PipelineSpec& spec) {
  PlanBuilder b(spec);
  if (spec.model_path) b.add_model();
  for (std::size_t ni : node_order(spec, b.node_index)) b.add_node(ni);
  if (!b.diags.empty()) throw SpecError(std::move(b.diags));

  // Instances were created node by node in the node graph's topological order, each after its
  // inputs, so this order is already topological.
  Plan plan;
  plan.instances = std::move(b.insts);
  for (std::size_t i = 0; i < plan.instances.size(); ++i)
    for (std::size_t u : plan.instances[i].upstream) plan.instances[u].downstream.push_back(i);
  return plan;
}

}  // namespace slimpipe::core
