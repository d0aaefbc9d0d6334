// The cache decision: keys, data identities and the reason an instance must run.
#include "cache_decision.hpp"

#include <algorithm>

#include "slimpipe/core/artifact_store.hpp"
#include "slimpipe/hash.hpp"
#include "slimpipe/tasks/data_source.hpp"

namespace slimpipe::core {

std::string external_dir_hash(const fs::path& dir, const fs::path& exclude) {
  if (fs::exists(dir / "manifest.json")) {
    try {
      std::string h = Artifact::load(dir).hash();
      if (!h.empty()) return h;
    } catch (const std::exception&) {
    }
  }
  std::vector<fs::path> files;
  const fs::path ex = fs::weakly_canonical(exclude);
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
    // The pipeline's own output folder may sit inside the model folder; it is not the model.
    if (it->is_directory() && fs::weakly_canonical(it->path()) == ex) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file()) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  Hasher h;
  for (const auto& f : files) {
    h.update(fs::relative(f, dir).generic_string());
    h.update(std::to_string(fs::file_size(f)));
    h.update(std::to_string(fs::last_write_time(f).time_since_epoch().count()));
  }
  return h.hex();
}

DataIdentity::DataIdentity(const PipelineSpec& spec, const Lockfile& lock) : spec_(spec) {
  if (spec.task && spec.task->plugin) {
    const Json resolved = resolve_path_params(spec.task->plugin->schema, spec.task->params, spec.base_dir);
    for (const auto& s : spec.task->plugin->schema.specs())
      if (s.type == ParamType::Path && resolved.contains(s.name) && resolved[s.name].is_string() &&
          !resolved[s.name].get<std::string>().empty())
        task_paths_[s.name] = resolved[s.name];
  }
  for (const auto& e : lock.entries()) {
    if (!e.data.is_object()) continue;
    for (const auto& [name, id] : e.data.items())
      if (id.is_object() && id.contains("sha1") && id.contains("path") && id["path"].is_string())
        recorded_[id["path"].get<std::string>()] = id;
  }
}

Json DataIdentity::identify(const fs::path& path) {
  const std::string key = path.string();
  {
    std::lock_guard<std::mutex> g(mu_);
    auto it = seen_.find(key);
    if (it != seen_.end()) return it->second;
  }
  Json id{{"path", key}};
  std::error_code ec;
  const auto st = fs::status(path, ec);
  if (ec || !fs::exists(st)) {
    id["missing"] = true;
  } else if (fs::is_directory(st)) {
    id["dir"] = external_dir_hash(path, spec_.output_dir);
  } else {
    const auto size = static_cast<std::uint64_t>(fs::file_size(path));
    const auto mtime = static_cast<std::int64_t>(fs::last_write_time(path).time_since_epoch().count());
    id["size"] = size;
    id["mtime"] = mtime;
    std::string sha1;
    {
      std::lock_guard<std::mutex> g(mu_);
      auto rec = recorded_.find(key);
      if (rec != recorded_.end() && rec->second.value("size", std::uint64_t{0}) == size &&
          rec->second.value("mtime", std::int64_t{0}) == mtime)
        sha1 = rec->second.value("sha1", std::string());
    }
    if (sha1.empty()) sha1 = Hasher().update_file(path).hex();
    id["sha1"] = sha1;
  }
  std::lock_guard<std::mutex> g(mu_);
  seen_[key] = id;
  return id;
}

Json DataIdentity::of(const Instance& inst) {
  Json data = Json::object();
  const bool with_test = tasks::reads_test_split(inst.params);
  const auto& test_only = tasks::test_only_params();
  for (const auto& [name, path] : task_paths_.items()) {
    if (!with_test && std::find(test_only.begin(), test_only.end(), name) != test_only.end()) continue;
    data["task." + name] = identify(path.get<std::string>());
  }
  return data;
}

const std::string& TaskHashes::of(const Instance& inst) const {
  return tasks::reads_test_split(inst.params) ? with_test : dev;
}

TaskHashes task_hashes_of(const PipelineSpec& spec) {
  if (!spec.task || !spec.task->plugin) return {};
  Json j{{"type", spec.task->type},
         {"version", spec.task->plugin->version},
         {"fingerprint", spec.task->plugin->fingerprint},
         {"params", spec.task->params}};
  TaskHashes h;
  h.with_test = sha1_hex(j.dump());
  if (j["params"].is_object())
    for (const std::string& name : tasks::test_only_params()) j["params"].erase(name);
  h.dev = sha1_hex(j.dump());
  return h;
}

namespace {

// What of a data identity decides validity: the bytes (or the folder's identity), not where or when.
Json content_of(const Json& id) {
  if (!id.is_object()) return Json();
  if (id.contains("missing")) return Json("missing");
  if (id.contains("dir")) return id["dir"];
  return Json{{"size", id.value("size", std::uint64_t{0})}, {"sha1", id.value("sha1", std::string())}};
}

std::string data_change(const std::string& name, const Json& was, const Json& now) {
  const std::string path = now.value("path", std::string());
  std::string why;
  if (now.contains("missing"))
    why = "is missing";
  else if (now.contains("dir"))
    why = "folder changed";
  else if (was.value("size", std::uint64_t{0}) != now.value("size", std::uint64_t{0}))
    why = "edited, " + std::to_string(was.value("size", std::uint64_t{0})) + " -> " +
          std::to_string(now.value("size", std::uint64_t{0})) + " bytes";
  else
    why = "edited, same size, other content";
  return "data changed: " + name + " = " + path + " (" + why + ")";
}

}  // namespace

CacheKey cache_key(const Instance& inst, const PluginInfo& plugin, std::vector<std::string> input_hashes,
                   const std::string& task_hash, Json data) {
  CacheKey k;
  k.plugin = {{"name", plugin.name}, {"version", plugin.version}, {"fingerprint", plugin.fingerprint}};
  k.input_hashes = std::move(input_hashes);
  k.task_hash = task_hash;
  k.data = std::move(data);
  Json content = Json::object();
  for (const auto& [name, id] : k.data.items()) content[name] = content_of(id);
  Json j{{"plugin", k.plugin},      {"params", inst.params}, {"inputs", k.input_hashes},
         {"outputs", inst.outputs}, {"task", task_hash},     {"data", content}};
  k.hash = sha1_hex(j.dump());
  return k;
}

std::string stale_reason(const Instance& inst, const Plan& plan, const CacheKey& key, const std::optional<LockEntry>& e,
                         const fs::path& output_dir) {
  if (!e) return "never built";
  if (e->status != "done") return "failed last time: " + e->error;
  if (e->plugin != key.plugin) {
    return "plugin changed (" + e->plugin.value("name", std::string()) + " " +
           e->plugin.value("version", std::string()) + " -> " + key.plugin.value("version", std::string()) + ")";
  }
  if (e->params != inst.params) {
    std::string changed;
    for (auto it = inst.params.begin(); it != inst.params.end(); ++it)
      if (!e->params.contains(it.key()) || e->params[it.key()] != it.value())
        changed += (changed.empty() ? "" : ", ") + it.key();
    return "parameters changed (" + changed + ")";
  }
  if (e->input_hashes != key.input_hashes) {
    for (std::size_t i = 0; i < inst.inputs.size(); ++i)
      if (i >= e->input_hashes.size() || e->input_hashes[i] != key.input_hashes[i]) {
        const auto& r = inst.inputs[i];
        return "input " + plan.instances[r.instance].id + (r.output.empty() ? "" : "/" + r.output) + " changed";
      }
    return "inputs changed";
  }
  if (e->task_hash != key.task_hash) return "task changed";
  if (e->data.is_object() && !e->data.empty()) {  // an entry from before identities were recorded has none
    for (const auto& [name, now] : key.data.items()) {
      const Json was = e->data.value(name, Json::object());
      if (was.empty()) return "data added: " + name + " = " + now.value("path", std::string());
      if (content_of(was) != content_of(now)) return data_change(name, was, now);
    }
    for (const auto& [name, was] : e->data.items())
      if (!key.data.contains(name)) return "data no longer read: " + name;
  }
  // Stat only: cheap enough for every plan and run; `slimpipe verify` reads the bytes.
  for (const auto& o : inst.outputs) {
    const Json out = e->outputs.is_object() ? e->outputs.value(o, Json::object()) : Json::object();
    std::string why = check_stored_output(inst.output_dir(o), output_dir,
                                          out.is_object() ? out.value("hash", std::string()) : std::string());
    if (!why.empty()) return why;
  }
  return "";
}

LockEntry entry_for(const Instance& inst, const CacheKey& key) {
  LockEntry le;
  le.id = inst.id;
  le.hash = key.hash;
  le.plugin = key.plugin;
  le.params = inst.params;
  le.input_hashes = key.input_hashes;
  le.task_hash = key.task_hash;
  le.data = key.data;
  return le;
}

}  // namespace slimpipe::core
