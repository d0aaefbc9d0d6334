// The executor: cache decisions, the TBB flow graph, instance contexts and atomic artifact writes.
#include "slimpipe/core/executor.hpp"

#include "console.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_set>

#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>

#include "slimpipe/core/artifact_store.hpp"
#include "slimpipe/core/diagnostics.hpp"
#include "slimpipe/hash.hpp"
#include "slimpipe/strategy.hpp"
#include "slimpipe/tasks/data_source.hpp"
#include "slimpipe/threads.hpp"

namespace slimpipe::core {

namespace {

std::atomic<bool> g_cancel{false};

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string safe_name(const std::string& id) {
  std::string out;
  for (char c : id) out += (c == '/' || c == ' ' || c == '\\') ? '_' : c;
  return out;
}

// Identity of an external model folder without reading every byte: names, sizes, mtimes.
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

class InstanceLogger final : public Logger {
 public:
  InstanceLogger(std::string id, Console& console) : id_(std::move(id)), console_(console) {}
  void log(LogLevel level, const std::string& message) override { console_.log(id_, level, message); }

 private:
  std::string id_;
  Console& console_;
};

// A strategy's progress, handed to the console, which throttles and renders it.
class ConsoleProgress final : public Progress {
 public:
  ConsoleProgress(std::string id, Console& console) : id_(std::move(id)), console_(console) {}
  void begin(const std::string& phase, std::int64_t total) override { console_.phase_begin(id_, phase, total); }
  void update(std::int64_t done, const std::string& status) override { console_.phase_update(id_, done, status); }
  void end() override { console_.phase_end(id_); }

 private:
  std::string id_;
  Console& console_;
};

class InstanceContext final : public Context {
 public:
  InstanceContext(const std::string& id, Logger& log, Console& console, std::uint64_t seed, const std::string& device,
                  int threads, fs::path scratch, Task* task, std::map<std::string, OutputArtifact>& outputs)
      : id_(id), log_(log), progress_(id, console), seed_(seed), device_(device), threads_(threads),
        scratch_(std::move(scratch)), task_(task), outputs_(outputs) {}

  const std::string& instance_id() const override { return id_; }
  Logger& log() override { return log_; }
  Progress& progress() override { return progress_; }
  bool cancelled() const override { return g_cancel.load(); }
  std::uint64_t seed() const override { return seed_; }
  const std::string& device() const override { return device_; }
  int threads() const override { return threads_; }
  const fs::path& scratch_dir() const override {
    if (!scratch_made_) {  // made on first use: most strategies need none
      fs::create_directories(scratch_);
      scratch_made_ = true;
    }
    return scratch_;
  }
  bool has_task() const override { return task_ != nullptr; }
  Task& task() override {
    if (!task_) throw Error("instance " + id_ + " needs a task, but the pipeline has no [task] table");
    return *task_;
  }
  OutputArtifact& output(const std::string& name) override {
    auto it = outputs_.find(name);
    if (it == outputs_.end()) {
      std::string names;
      for (const auto& [n, o] : outputs_) names += (names.empty() ? "" : ", ") + ("'" + n + "'");
      throw Error("instance " + id_ + " asked for output '" + name + "', but declared only " + names);
    }
    return it->second;
  }

 private:
  std::string id_;
  Logger& log_;
  ConsoleProgress progress_;
  std::uint64_t seed_;
  std::string device_;
  int threads_;
  fs::path scratch_;
  mutable bool scratch_made_ = false;
  Task* task_;
  std::map<std::string, OutputArtifact>& outputs_;
};

struct Selection {
  std::vector<bool> selected;
  std::vector<bool> forced;
};

std::vector<std::size_t> resolve_selectors(const Plan& plan, const std::vector<std::string>& sels, const char* flag) {
  std::vector<std::size_t> out;
  for (const auto& s : sels) {
    auto m = plan.match(s);
    if (m.empty()) {
      std::vector<std::string> cands = plan.ids();
      for (const auto& i : plan.instances) cands.push_back(i.id.substr(0, i.id.find('@')));
      throw Error(std::string(flag) + " " + s + ": no such instance or node" + did_you_mean(s, cands) +
                  "; `slimpipe plan` lists them");
    }
    out.insert(out.end(), m.begin(), m.end());
  }
  return out;
}

Selection select(const Plan& plan, const RunOptions& o) {
  Selection s;
  const std::size_t n = plan.instances.size();
  s.selected.assign(n, o.only.empty());
  s.forced.assign(n, false);
  for (std::size_t i : resolve_selectors(plan, o.only, "--only")) s.selected[i] = true;
  for (std::size_t i : resolve_selectors(plan, o.force, "--force")) s.forced[i] = true;
  for (std::size_t i : plan.descendants(resolve_selectors(plan, o.from, "--from"))) s.forced[i] = true;
  for (std::size_t i = 0; i < n; ++i)
    if (plan.instances[i].is_model()) s.forced[i] = false;
  return s;
}

}  // namespace

const char* to_string(Status s) {
  switch (s) {
    case Status::Pending: return "pending";
    case Status::Cached: return "cached";
    case Status::Done: return "done";
    case Status::Failed: return "failed";
    case Status::Skipped: return "skipped";
    case Status::Cancelled: return "cancelled";
    case Status::Unselected: return "not selected";
  }
  return "?";
}

void request_cancel() { g_cancel.store(true); }
bool cancel_requested() { return g_cancel.load(); }
void reset_cancel() { g_cancel.store(false); }

Executor::Executor(const PipelineSpec& spec, const Plan& plan) : spec_(spec), plan_(plan) {}

int Executor::threads_per_instance(int max_parallel) const {
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int fair = std::max(1, cores / std::max(1, max_parallel));
  if (spec_.threads_per_instance > 0) return std::min(spec_.threads_per_instance, fair);
  return fair;
}

namespace {

// Everything that decides whether an instance's stored result is still valid.
struct CacheKey {
  Json plugin;
  std::vector<std::string> input_hashes;
  std::string task_hash;
  std::string hash;
};

// The task's part of the cache key. The test-only parameters (test file, synthetic_test_size) count only
// for instances that read the test split (tasks::reads_test_split), so adding a test file reruns no
// training, pruning or calibration; without them both hashes are the one of all parameters.
struct TaskHashes {
  std::string dev, with_test;
  const std::string& of(const Instance& inst) const { return tasks::reads_test_split(inst.params) ? with_test : dev; }
};

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

CacheKey cache_key(const Instance& inst, const PluginInfo& plugin, std::vector<std::string> input_hashes,
                   const std::string& task_hash) {
  CacheKey k;
  k.plugin = {{"name", plugin.name}, {"version", plugin.version}, {"fingerprint", plugin.fingerprint}};
  k.input_hashes = std::move(input_hashes);
  k.task_hash = task_hash;
  Json j{{"plugin", k.plugin}, {"params", inst.params}, {"inputs", k.input_hashes}, {"outputs", inst.outputs},
         {"task", task_hash}};
  k.hash = sha1_hex(j.dump());
  return k;
}

// "" when the stored result is valid, else why the instance must run.
std::string stale_reason(const Instance& inst, const Plan& plan, const CacheKey& key, const std::optional<LockEntry>& e,
                         const fs::path& output_dir) {
  if (!e) return "never built";
  if (e->status != "done") return "failed last time: " + e->error;
  if (e->plugin != key.plugin) {
    return "plugin changed (" + e->plugin.value("name", std::string()) + " " + e->plugin.value("version", std::string()) +
           " -> " + key.plugin.value("version", std::string()) + ")";
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
  // Stat only: cheap enough for every plan and run; `slimpipe verify` reads the bytes.
  for (const auto& o : inst.outputs) {
    const Json out = e->outputs.is_object() ? e->outputs.value(o, Json::object()) : Json::object();
    std::string why = check_stored_output(inst.output_dir(o), output_dir,
                                          out.is_object() ? out.value("hash", std::string()) : std::string());
    if (!why.empty()) return why;
  }
  return "";
}

// The pipeline's [model] folder as an artifact (its manifest when it has one, its files' identity as hash).
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

void print_warnings(std::ostream& out, const Lockfile& lock) {
  for (const auto& w : lock.warnings()) out << "slimpipe: warning: " << w << "\n";
}

// The lock entry of an instance about to run; status and timing are filled in when it ends.
LockEntry entry_for(const Instance& inst, const CacheKey& key) {
  LockEntry le;
  le.id = inst.id;
  le.hash = key.hash;
  le.plugin = key.plugin;
  le.params = inst.params;
  le.input_hashes = key.input_hashes;
  le.task_hash = key.task_hash;
  return le;
}

// The stored outputs of an instance that need not run. False, with why in *reason, when one cannot be read
// after all (changed since stale_reason looked at it).
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

// The temp folder an instance writes into: a single unnamed output is the folder itself, named outputs are
// subfolders of it (every filesystem operation counts on slow disks).
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

// Finishes every output written under `tmp` (manifests last, written durably), then moves the folder into
// place: a reader sees the old artifact or the new one, never a half-written one, and a manifest that
// cannot be written fails the instance before anything is moved. Returns the manifests, parallel to
// inst.outputs, and adds the outputs to `le`.
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
    le.outputs[name] = {{"path", fs::relative(inst.output_dir(name), output_dir).generic_string()}, {"hash", m["hash"]}};
    manifests.push_back(std::move(m));
  }
  move_into_place(tmp, inst.dir, trash);
  return manifests;
}

}  // namespace

std::vector<PlanRow> Executor::dry_run(const RunOptions& opts) {
  Selection sel = select(plan_, opts);
  Lockfile lock(spec_.output_dir);
  lock.load();
  print_warnings(opts.log ? *opts.log : std::cerr, lock);
  const TaskHashes task_hashes = task_hashes_of(spec_);
  // Artifact hashes as far as they can be known without running: "" = will be rebuilt.
  std::vector<std::map<std::string, std::string>> hashes(plan_.instances.size());
  std::vector<PlanRow> rows;
  for (std::size_t i = 0; i < plan_.instances.size(); ++i) {
    const Instance& inst = plan_.instances[i];
    if (inst.is_model()) {
      std::string h = fs::is_directory(inst.dir) ? external_dir_hash(inst.dir, spec_.output_dir) : "";
      hashes[i][""] = h;
      rows.push_back({i, false, h.empty() ? "missing: " + inst.dir.string() : "input model " + inst.dir.string()});
      continue;
    }
    std::vector<std::string> in_hashes;
    std::string pending;
    for (const auto& r : inst.inputs) {
      std::string h = hashes[r.instance][r.output];
      if (h.empty() && pending.empty()) pending = plan_.instances[r.instance].id;
      in_hashes.push_back(h);
    }
    auto e = lock.find(inst.id);
    const PluginInfo& plugin = *spec_.nodes[inst.node].plugin;
    CacheKey key = cache_key(inst, plugin, in_hashes, task_hashes.of(inst));
    std::string reason;
    if (sel.forced[i])
      reason = "forced";
    else if (!pending.empty())
      reason = "input " + pending + " will be rebuilt";
    else
      reason = stale_reason(inst, plan_, key, e, spec_.output_dir);
    bool will_run = !reason.empty();
    if (will_run && !sel.selected[i]) reason = "not selected, and " + reason + ": dependants cannot run";
    if (!will_run)
      for (const auto& o : inst.outputs) hashes[i][o] = e->outputs.value(o, Json::object()).value("hash", std::string());
    rows.push_back({i, will_run && sel.selected[i], will_run ? reason : "up to date"});
  }
  return rows;
}

void Executor::adopt_run_lock(std::unique_ptr<RunLock> lock) { run_lock_ = std::move(lock); }

RunSummary Executor::run(const RunOptions& opts) {
  const auto t_start = Clock::now();
  Selection sel = select(plan_, opts);
  std::ostream& out = opts.log ? *opts.log : std::cerr;
  const int max_parallel = opts.max_parallel > 0 ? opts.max_parallel : spec_.max_parallel;
  const int threads = threads_per_instance(max_parallel);
  set_intra_op_threads(threads);  // process-wide, so the same for every instance of the run

  // One writer per folder: fails at once, naming the holder, when another run is writing here. Only then is
  // it safe to clear what interrupted runs left, and each run writes under .tmp/<its pid>.
  if (run_lock_) {
    std::error_code same_ec;
    if (!fs::equivalent(run_lock_->path(), RunLock::path_for(spec_.output_dir), same_ec)) run_lock_.reset();
  }
  if (!run_lock_) run_lock_ = std::make_unique<RunLock>(spec_.output_dir);
  if (!run_lock_->warning().empty()) out << "slimpipe: warning: " << run_lock_->warning() << "\n";
  const fs::path tmp_root = spec_.output_dir / ".tmp" / std::to_string(::getpid());
  remove_temp_leftovers(spec_.output_dir / ".tmp");
  fs::create_directories(tmp_root);
  Lockfile lock(spec_.output_dir);
  lock.load();
  lock.hold(*run_lock_);
  print_warnings(out, lock);
  lock.set_pipeline(spec_.name);
  std::size_t runnable = 0;
  for (const auto& inst : plan_.instances) runnable += inst.is_model() ? 0 : 1;
  Console console(out, opts.level, opts.format, opts.live, spec_.output_dir / "logs" / "run.log", runnable, max_parallel);

  // The task is configured once and shared by every instance.
  std::shared_ptr<Task> task;
  if (spec_.task && spec_.task->plugin) {
    Json tparams = resolve_params(spec_.task->plugin->schema, spec_.task->params, "[task]").json();
    for (const auto& s : spec_.task->plugin->schema.specs())
      if (s.type == ParamType::Path && tparams[s.name].is_string() && !tparams[s.name].get<std::string>().empty()) {
        fs::path p(tparams[s.name].get<std::string>());
        if (p.is_relative()) tparams[s.name] = (spec_.base_dir / p).lexically_normal().string();
      }
    task = PluginRegistry::create_task(*spec_.task->plugin);
    configure_task(*task, Params(tparams));
  }
  const TaskHashes task_hashes = task_hashes_of(spec_);

  const std::size_t n = plan_.instances.size();
  RunSummary summary;
  summary.outcomes.resize(n);
  std::vector<std::vector<Artifact>> artifacts(n);  // per instance, parallel to its outputs
  std::atomic<bool> failed_any{false};
  std::error_code ec;

  auto run_instance = [&](std::size_t i) {
    const Instance& inst = plan_.instances[i];
    InstanceOutcome& oc = summary.outcomes[i];
    const auto t0 = Clock::now();
    if (inst.is_model()) {
      oc = use_input_model(inst, spec_.output_dir, artifacts[i]);
      if (oc.status == Status::Failed) console.log("model", LogLevel::Error, oc.reason);
      return;
    }
    for (const auto& r : inst.inputs) {
      Status s = summary.outcomes[r.instance].status;
      // Downstream of what --only left out, and not selected itself: not selected, not a failure.
      if (s == Status::Unselected && !sel.selected[i]) {
        oc = {Status::Unselected, "not selected (--only); input " + plan_.instances[r.instance].id + " is not built", 0};
        return;
      }
      if (s != Status::Done && s != Status::Cached) {
        oc = {Status::Skipped, "input " + plan_.instances[r.instance].id + " " + to_string(s), 0};
        return;
      }
    }
    std::vector<Artifact> inputs;
    std::vector<std::string> in_hashes;
    for (const auto& r : inst.inputs) {
      const Instance& up = plan_.instances[r.instance];
      auto pos = std::find(up.outputs.begin(), up.outputs.end(), r.output) - up.outputs.begin();
      inputs.push_back(artifacts[r.instance][static_cast<std::size_t>(pos)]);
      in_hashes.push_back(inputs.back().hash());
    }
    const NodeSpec& node = spec_.nodes[inst.node];
    CacheKey key = cache_key(inst, *node.plugin, in_hashes, task_hashes.of(inst));
    std::string reason = sel.forced[i] ? "forced" : stale_reason(inst, plan_, key, lock.find(inst.id), spec_.output_dir);
    if (reason.empty() && load_stored(inst, artifacts[i], &reason)) {
      oc = {Status::Cached, "up to date", 0};
      return;
    }
    if (!sel.selected[i]) {
      oc = {Status::Unselected, "not selected (--only); " + reason, 0};
      return;
    }
    if (g_cancel.load()) {
      oc = {Status::Cancelled, "interrupted before it started", 0};
      return;
    }

    InstanceLogger logger(inst.id, console);
    console.instance_started(inst.id);
    logger.info("running: " + reason);
    // Outputs are written under .tmp/<pid> and renamed into place once complete.
    const std::string stem = safe_name(inst.id);
    const fs::path tmp = tmp_root / stem;
    LockEntry le = entry_for(inst, key);
    const fs::path scratch = tmp_root / (stem + ".scratch");
    try {
      std::map<std::string, OutputArtifact> outputs = make_outputs(inst, tmp);
      InstanceContext ctx(inst.id, logger, console, spec_.seed, spec_.device, threads, scratch, task.get(), outputs);
      auto strategy = PluginRegistry::create_strategy(*node.plugin);
      strategy->run(ctx, inputs, Params(inst.params));
      if (fs::exists(scratch)) fs::remove_all(scratch);
      const std::vector<Json> manifests =
          publish_outputs(inst, node, inputs, outputs, tmp, tmp_root / (stem + ".old"), spec_.output_dir, le);
      for (std::size_t k = 0; k < inst.outputs.size(); ++k)
        artifacts[i].emplace_back(manifests[k]["id"].get<std::string>(), inst.output_dir(inst.outputs[k]), manifests[k]);
      le.status = "done";
      le.seconds = seconds_since(t0);
      le.finished = utc_now_iso();
      lock.record(le);
      oc = {Status::Done, reason, le.seconds};
      logger.info("done in " + std::to_string(le.seconds).substr(0, 6) + " s");
    } catch (const Cancelled&) {
      fs::remove_all(tmp, ec);
      fs::remove_all(scratch, ec);
      oc = {Status::Cancelled, "interrupted", seconds_since(t0)};
      logger.warn("interrupted; nothing of this instance was kept");
    } catch (const std::exception& e) {
      fs::remove_all(tmp, ec);
      fs::remove_all(scratch, ec);
      oc = {Status::Failed, e.what(), seconds_since(t0)};
      le.status = "failed";
      le.error = e.what();
      le.seconds = oc.seconds;
      le.finished = utc_now_iso();
      try {
        lock.record(le);
      } catch (const std::exception&) {  // a full disk: the failure is still reported
      }
      logger.error(e.what());
      failed_any = true;
      if (spec_.fail_fast) g_cancel = true;
    }
  };

  // TBB flow graph: one continue_node per instance, an edge per dependency; the arena bounds
  // how many run at once. global_control lets max_parallel exceed the core count for work that
  // waits rather than computes.
  tbb::global_control gc(tbb::global_control::max_allowed_parallelism,
                         static_cast<std::size_t>(std::max<int>(max_parallel, static_cast<int>(std::thread::hardware_concurrency()))));
  tbb::task_arena arena(max_parallel);
  arena.execute([&] {
    tbb::flow::graph g;
    std::vector<std::unique_ptr<tbb::flow::continue_node<tbb::flow::continue_msg>>> nodes;
    nodes.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      nodes.push_back(std::make_unique<tbb::flow::continue_node<tbb::flow::continue_msg>>(
          g, [&, i](const tbb::flow::continue_msg&) {
            try {
              run_instance(i);
            } catch (const std::exception& e) {
              summary.outcomes[i] = {Status::Failed, e.what(), 0};
            } catch (...) {  // nothing may leave the graph: it would end the process
              summary.outcomes[i] = {Status::Failed, "unknown exception", 0};
            }
            if (!plan_.instances[i].is_model())
              console.instance_finished(plan_.instances[i].id, summary.outcomes[i].status, summary.outcomes[i].seconds);
          }));
    }
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t u : plan_.instances[i].upstream) tbb::flow::make_edge(*nodes[u], *nodes[i]);
    for (std::size_t i = 0; i < n; ++i)
      if (plan_.instances[i].upstream.empty()) nodes[i]->try_put(tbb::flow::continue_msg());
    g.wait_for_all();
  });
  console.close();
  try {
    lock.commit();
  } catch (const std::exception& e) {
    summary.lock_error = e.what();
    out << "slimpipe: error: " << e.what() << "; " << lock.journal_path().string() << " keeps this run's results\n";
  }
  fs::remove_all(tmp_root, ec);
  fs::remove(tmp_root.parent_path(), ec);  // .tmp itself, when no other run left anything there

  for (const auto& oc : summary.outcomes) {
    switch (oc.status) {
      case Status::Done: ++summary.ran; break;
      case Status::Cached: ++summary.cached; break;
      case Status::Failed: ++summary.failed; break;
      case Status::Skipped: ++summary.skipped; break;
      case Status::Cancelled: ++summary.cancelled; break;
      case Status::Unselected: ++summary.unselected; break;
      default: break;
    }
  }
  // The input model is not an instance the user asked for; don't count it.
  for (std::size_t i = 0; i < n; ++i)
    if (plan_.instances[i].is_model() && summary.outcomes[i].status == Status::Cached) --summary.cached;
  summary.interrupted = g_cancel.load() && !(spec_.fail_fast && failed_any.load());
  summary.seconds = seconds_since(t_start);
  return summary;
}

}  // namespace slimpipe::core
