// The pipeline checker's nodes (spec_detail.hpp): matrices, fan-out lists, composite expansion, node tables
// and the graph (unknown inputs, cycles).
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "slimpipe/cuda.hpp"
#include "spec_detail.hpp"

namespace slimpipe::core::spec {

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

namespace {

// The steps of a composite node, each taking the previous one as input; false (an error reported) when a step's
// plugin is missing. `all_keys` gets every parameter any step declares.
bool composite_steps(Checker& c, const NodeSpec& node, const std::string& where, std::vector<NodeSpec>& subs,
                     std::vector<std::string>& all_keys) {
  const auto& steps = node.plugin->steps;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    NodeSpec sub;
    sub.id = i + 1 == steps.size() ? node.id : node.id + "_" + steps[i].suffix;
    sub.type = steps[i].plugin;
    sub.pos = node.pos;
    sub.plugin = c.registry().find(steps[i].plugin);
    if (!sub.plugin || sub.plugin->kind != "strategy") {
      c.error(node.pos, where + ": composite '" + node.type + "' needs the strategy plugin '" + steps[i].plugin +
                            "', which is not installed (`slimpipe plugins` lists the plugins found)");
      return false;
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
  return true;
}

// Which steps a key goes to: the step that claims it, else every step whose plugin declares it.
std::vector<std::size_t> step_owners(const NodeSpec& node, const std::vector<NodeSpec>& subs, const std::string& key) {
  const auto& steps = node.plugin->steps;
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < steps.size(); ++i)
    if (std::find(steps[i].claims.begin(), steps[i].claims.end(), key) != steps[i].claims.end())
      return std::vector<std::size_t>{i};
  for (std::size_t i = 0; i < steps.size(); ++i)
    if (subs[i].plugin->schema.find(key)) out.push_back(i);
  return out;
}

// The composite node's own parameters, each to the steps that own it.
void composite_params(Checker& c, const NodeSpec& node, const toml::table& t, const std::string& where,
                      std::vector<NodeSpec>& subs, const std::vector<std::string>& all_keys) {
  std::vector<std::string> reserved = kNodeKeys;
  for (auto [kp, vp] : ordered(t)) {
    const std::string key(kp->str());
    if (std::find(kNodeKeys.begin(), kNodeKeys.end(), key) != kNodeKeys.end()) continue;
    const auto to = step_owners(node, subs, key);
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
}

// The composite node's matrix: each axis to the steps that own its key (include and exclude are refused).
void composite_matrix(Checker& c, const NodeSpec& node, const toml::table& mt, const std::string& where,
                      std::vector<NodeSpec>& subs, const std::vector<std::string>& all_keys) {
  for (auto [kp, vp] : ordered(mt)) {
    const std::string key(kp->str());
    if (key == "include" || key == "exclude") {
      c.error(c.pos(*kp), where + " matrix " + key +
                              " is not supported on a composite node; write its steps as "
                              "separate nodes to use it");
      continue;
    }
    const toml::array* arr = vp->as_array();
    const auto to = step_owners(node, subs, key);
    if (to.empty() || !arr || arr->empty()) {
      c.error(c.pos(*kp), to.empty() ? "unknown key '" + clip(key) + "' in [nodes." + node.id + ".matrix]" +
                                           did_you_mean(key, all_keys)
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
      subs[i].matrix.pos = c.pos(mt);
      subs[i].matrix.axes.push_back(std::move(axis));
    }
  }
}

// Required parameters must be set, either directly or by every matrix cell. `step` names a composite's step in
// the message ("" for a plain node).
void check_required(Checker& c, const NodeSpec& node, const NodeSpec& sub, const std::string& where,
                    const std::string& step) {
  for (const auto& s : sub.plugin->schema.specs()) {
    if (!s.required || sub.params.contains(s.name)) continue;
    bool axis = std::any_of(sub.matrix.axes.begin(), sub.matrix.axes.end(),
                            [&](const MatrixAxis& a) { return a.key == s.name; });
    if (!axis)
      c.error(node.pos, where + " lacks required parameter '" + s.name + "' (" + s.doc + ")" +
                            (step.empty() ? "" : " of step '" + step + "'"));
  }
}

}  // namespace

// A composite node (type = "dynabert+ptq") becomes one node per step: "<id>_<suffix>" ... and finally "<id>",
// each taking the previous one as input. A parameter or matrix axis goes to the step that claims it, else to
// every step whose plugin declares it.
void expand_composite(Checker& c, NodeSpec node, const toml::table& t, PipelineSpec& spec) {
  const std::string where = "[nodes." + node.id + "]";
  std::vector<NodeSpec> subs;
  std::vector<std::string> all_keys;
  if (!composite_steps(c, node, where, subs, all_keys)) return;
  composite_params(c, node, t, where, subs, all_keys);
  if (const toml::node* m = t.get("matrix")) {
    if (const toml::table* mt = m->as_table())
      composite_matrix(c, node, *mt, where, subs, all_keys);
    else
      c.error(c.pos(*m), where + " matrix must be a table, got " + toml_type_name(*m));
  }
  for (auto& sub : subs) {
    fan_out_lists(c, sub, t);
    check_required(c, node, sub, where, sub.type);
    spec.nodes.push_back(std::move(sub));
  }
}

namespace {

// The node's id: its length, its characters, and not "model". A long id is clipped for later messages.
void check_node_id(Checker& c, NodeSpec& node) {
  static const std::regex id_re("^[a-z][a-z0-9_]*$");
  if (node.id.size() > kMaxNodeIdBytes) {
    // It names the node's output folders, which the file system limits to 255 bytes.
    c.error(node.pos, "node id '" + clip(node.id, 80) + "' is " + std::to_string(node.id.size()) +
                          " bytes long; at most " + std::to_string(kMaxNodeIdBytes) + " are allowed");
    node.id = clip(node.id, 80);  // later messages quote it
  } else if (!std::regex_match(node.id, id_re)) {
    c.error(node.pos, "node id '" + node.id + "' must match [a-z][a-z0-9_]* (lower case, digits, underscores)");
  }
  if (node.id == "model") c.error(node.pos, "node id 'model' is reserved for the input model ([model] table)");
}

// type first: the plugin's schema decides which other keys are valid.
void parse_node_type(Checker& c, const toml::table& t, const std::string& where, NodeSpec& node) {
  const toml::node* type = t.get("type");
  if (!type) {
    c.error(node.pos, where + " has no 'type' (the strategy plugin to run)");
    return;
  }
  node.type = str_value(c, *type, where + " type");
  if (node.type.empty()) return;
  node.plugin = c.registry().find(node.type);
  if (!node.plugin) {
    c.error(c.pos(*type), "unknown plugin '" + clip(node.type) + "' in " + where +
                              did_you_mean(node.type, c.registry().names("strategy")) +
                              "; `slimpipe plugins` lists the plugins found");
  } else if (node.plugin->kind != "strategy" && node.plugin->kind != "composite") {
    c.error(c.pos(*type), "plugin '" + node.type + "' is a " + node.plugin->kind + " plugin; nodes need a strategy");
    node.plugin = nullptr;
  }
}

void parse_node_inputs(Checker& c, const toml::table& t, const std::string& where, NodeSpec& node) {
  const toml::node* inputs = t.get("inputs");
  if (!inputs) {
    c.error(node.pos,
            where + " has no 'inputs' (e.g. inputs = [\"model\"], or inputs = [] for a node that starts from nothing)");
    return;
  }
  const toml::array* arr = inputs->as_array();
  if (!arr) {
    c.error(c.pos(*inputs), where + " inputs must be an array of node ids, got " + toml_type_name(*inputs));
    return;
  }
  for (const auto& e : *arr) {
    node.inputs.push_back(str_value(c, e, where + " inputs entry"));
    node.input_pos.push_back(c.pos(e));
  }
}

// The node's parameters: every key but the reserved ones, checked against the plugin's schema when it has one.
void parse_node_params(Checker& c, const toml::table& t, const std::string& where, NodeSpec& node) {
  std::vector<std::string> reserved = kNodeKeys;
  for (auto [kp, vp] : ordered(t)) {
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
}

}  // namespace

void parse_node(Checker& c, const toml::key& idk, const toml::node& n, PipelineSpec& spec) {
  NodeSpec node;
  node.id = std::string(idk.str());
  node.pos = c.pos(idk);
  check_node_id(c, node);
  const toml::table* t = n.as_table();
  if (!t) {
    c.error(c.pos(n), "[nodes." + node.id + "] must be a table, got " + toml_type_name(n));
    return;
  }
  const std::string where = "[nodes." + node.id + "]";
  parse_node_type(c, *t, where, node);
  parse_node_inputs(c, *t, where, node);
  if (const toml::node* col = t->get("collect")) node.collect = bool_value(c, *col, where + " collect").value_or(false);
  if (node.plugin && node.plugin->kind == "composite") {
    expand_composite(c, std::move(node), *t, spec);
    return;
  }

  parse_node_params(c, *t, where, node);
  if (const toml::node* m = t->get("matrix")) {
    if (const toml::table* mt = m->as_table())
      parse_matrix(c, node, *mt);
    else
      c.error(c.pos(*m), where + " matrix must be a table, got " + toml_type_name(*m));
  }
  if (node.plugin) fan_out_lists(c, node, *t);
  if (node.plugin) check_required(c, node, node, where, "");
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
        if (!spec.model_path)
          c.error(ipos, "[nodes." + n.id + "] takes input 'model' but the pipeline has no [model] path");
        continue;
      }
      if (!index.count(in))
        c.error(ipos,
                "[nodes." + n.id + "] takes input '" + clip(in) + "', which is not a node" + did_you_mean(in, ids));
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

}  // namespace slimpipe::core::spec
