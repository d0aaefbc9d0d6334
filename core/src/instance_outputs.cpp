// The artifact writer (instance_outputs.hpp).
#include "instance_outputs.hpp"

#include "cache_decision.hpp"

namespace slimpipe::core {

std::string safe_name(const std::string& id) {
  std::string out;
  for (char c : id) out += (c == '/' || c == ' ' || c == '\\') ? '_' : c;
  return out;
}

InstanceOutcome use_input_model(const Instance& inst, const fs::path& output_dir, std::vector<Artifact>& out) {
  if (!fs::is_directory(inst.dir))
    return {Status::Failed, "model.path: folder " + inst.dir.string() + " does not exist", 0};
  // An empty or corrupt manifest counts as none, as it does for plan: the folder is identified by its files.
  const auto own = Artifact::try_load(inst.dir);
  Json m = own ? own->manifest() : Json::object();
  m["hash"] = external_dir_hash(inst.dir, output_dir);
  m["id"] = "model";
  if (!m.contains("kind")) m["kind"] = "model";
  out.emplace_back("model", inst.dir, m);
  return {Status::Cached, "input model", 0};
}

bool load_stored(const Instance& inst, std::vector<Artifact>& out, std::string* reason) {
  try {
    for (const auto& o : inst.outputs) out.push_back(Artifact::load(inst.output_dir(o)));
    return true;
  } catch (const std::exception& e) {
    out.clear();
    *reason = std::string("stored output unreadable: ") + e.what();
    return false;
  }
}

std::map<std::string, OutputArtifact> make_outputs(const Instance& inst, const fs::path& tmp) {
  fs::create_directory(tmp);
  const bool single = inst.outputs.size() == 1 && inst.outputs[0].empty();
  std::map<std::string, OutputArtifact> outputs;
  for (const auto& o : inst.outputs) {
    fs::path d = single ? tmp : tmp / o;
    if (!single) fs::create_directory(d);
    outputs.emplace(o, OutputArtifact(o, d));
  }
  return outputs;
}

std::vector<Json> publish_outputs(const Instance& inst, const NodeSpec& node, const std::vector<Artifact>& inputs,
                                  std::map<std::string, OutputArtifact>& outputs, const fs::path& tmp,
                                  const fs::path& trash, const fs::path& output_dir, LockEntry& le) {
  Json common = {{"instance", inst.id},
                 {"node", node.id},
                 {"plugin", {{"name", node.plugin->name}, {"version", node.plugin->version}}},
                 {"params", inst.params},
                 {"parents", Json::array()}};
  for (const auto& a : inputs) common["parents"].push_back({{"id", a.id()}, {"hash", a.hash()}});
  std::vector<Json> manifests;
  for (const auto& name : inst.outputs) {
    OutputArtifact& oa = outputs.at(name);
    Json m = oa.manifest();
    for (const auto& [k, v] : common.items()) m[k] = v;
    m["id"] = name.empty() ? inst.id : inst.id + "/" + name;
    m["output"] = name;
    m = finish_manifest(oa.dir(), std::move(m));
    le.outputs[name] = {{"path", fs::relative(inst.output_dir(name), output_dir).generic_string()},
                        {"hash", m["hash"]}};
    manifests.push_back(std::move(m));
  }
  move_into_place(tmp, inst.dir, trash);
  return manifests;
}

}  // namespace slimpipe::core
