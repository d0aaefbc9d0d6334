// DOT and Mermaid renderings of the instance graph; one vertex per instance, labelled with its
// id and plugin, one edge per artifact read.
#include "slimpipe/core/graph_export.hpp"

#include <set>
#include <sstream>

namespace slimpipe::core {

namespace {

// A label's text for a quoted DOT string or a Mermaid node: quotes and backslashes escaped, each line
// break written as DOT's centred break (backslash n) or Mermaid's <br/>.
std::string escape(const std::string& s, bool mermaid) {
  std::string out;
  for (char c : s) {
    if (c == '"')
      out += mermaid ? "#quot;" : "\\\"";
    else if (c == '\\' && !mermaid)
      out += "\\\\";
    else if (c == '\n')
      out += mermaid ? "<br/>" : "\\n";
    else
      out += c;
  }
  return out;
}

std::string label(const PipelineSpec& spec, const Instance& inst) {
  if (inst.is_model()) return "model\n" + inst.dir.filename().string();
  return inst.id + "\n(" + spec.nodes[inst.node].type + ")";
}

std::string edge_label(const ArtifactRef& r) { return r.output; }

}  // namespace

std::string to_dot(const PipelineSpec& spec, const Plan& plan) {
  std::ostringstream o;
  o << "digraph \"" << escape(spec.name, false) << "\" {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n";
  for (std::size_t i = 0; i < plan.instances.size(); ++i) {
    const auto& inst = plan.instances[i];
    o << "  n" << i << " [label=\"" << escape(label(spec, inst), false) << "\""
      << (inst.is_model() ? ", shape=folder" : "") << "];\n";
  }
  for (std::size_t i = 0; i < plan.instances.size(); ++i) {
    std::set<std::pair<std::size_t, std::string>> seen;
    for (const auto& r : plan.instances[i].inputs) {
      if (!seen.insert({r.instance, r.output}).second) continue;
      o << "  n" << r.instance << " -> n" << i;
      if (!r.output.empty()) o << " [label=\"" << escape(edge_label(r), false) << "\"]";
      o << ";\n";
    }
  }
  o << "}\n";
  return o.str();
}

std::string to_mermaid(const PipelineSpec& spec, const Plan& plan) {
  std::ostringstream o;
  o << "flowchart LR\n";
  for (std::size_t i = 0; i < plan.instances.size(); ++i) {
    o << "  n" << i << "[\"" << escape(label(spec, plan.instances[i]), true) << "\"]\n";
  }
  for (std::size_t i = 0; i < plan.instances.size(); ++i) {
    std::set<std::pair<std::size_t, std::string>> seen;
    for (const auto& r : plan.instances[i].inputs) {
      if (!seen.insert({r.instance, r.output}).second) continue;
      o << "  n" << r.instance << " -->";
      if (!r.output.empty()) o << "|\"" << escape(r.output, true) << "\"|";
      o << " n" << i << "\n";
    }
  }
  return o.str();
}

}  // namespace slimpipe::core
