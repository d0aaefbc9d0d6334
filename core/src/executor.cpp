// The executor: cache decisions, the TBB flow graph, instance contexts and atomic artifact writes.
#include "slimpipe/core/executor.hpp"

#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_set>

#include "cache_decision.hpp"
#include "console.hpp"
#include "instance_build.hpp"
#include "instance_outputs.hpp"
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

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

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
    case Status::Pending:
      return "pending";
    case Status::Cached:
      return "cached";
    case Status::Done:
      return "done";
    case Status::Failed:
      return "failed";
    case Status::Skipped:
      return "skipped";
    case Status::Cancelled:
      return "cancelled";
    case Status::Unselected:
      return "not selected";
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

void print_warnings(std::ostream& out, const Lockfile& lock) {
  for (const auto& w : lock.warnings()) out << "slimpipe: warning: " << w << "\n";
}

// TBB flow graph: one continue_node per instance, an edge per dependency; the arena bounds how many run at
// once. global_control lets max_parallel exceed the core count for work that waits rather than computes.
void run_graph(const Plan& plan, int max_parallel, const std::function<void(std::size_t)>& run_one) {
  const std::size_t n = plan.instances.size();
  tbb::global_control gc(
      tbb::global_control::max_allowed_parallelism,
      static_cast<std::size_t>(std::max<int>(max_parallel, static_cast<int>(std::thread::hardware_concurrency()))));
  tbb::task_arena arena(max_parallel);
  arena.execute([&] {
    tbb::flow::graph g;
    std::vector<std::unique_ptr<tbb::flow::continue_node<tbb::flow::continue_msg>>> nodes;
    nodes.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
      nodes.push_back(std::make_unique<tbb::flow::continue_node<tbb::flow::continue_msg>>(
          g, [&run_one, i](const tbb::flow::continue_msg&) { run_one(i); }));
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t u : plan.instances[i].upstream) tbb::flow::make_edge(*nodes[u], *nodes[i]);
    for (std::size_t i = 0; i < n; ++i)
      if (plan.instances[i].upstream.empty()) nodes[i]->try_put(tbb::flow::continue_msg());
    g.wait_for_all();
  });
}

// Why instance i cannot run because of its inputs (not built, failed, left out by --only), or nothing.
std::optional<InstanceOutcome> blocked_by_inputs(const Plan& plan, std::size_t i,
                                                 const std::vector<InstanceOutcome>& outcomes, bool selected) {
  for (const auto& r : plan.instances[i].inputs) {
    const Status s = outcomes[r.instance].status;
    // Downstream of what --only left out, and not selected itself: not selected, not a failure.
    if (s == Status::Unselected && !selected)
      return InstanceOutcome{Status::Unselected,
                             "not selected (--only); input " + plan.instances[r.instance].id + " is not built", 0};
    if (s != Status::Done && s != Status::Cached)
      return InstanceOutcome{Status::Skipped, "input " + plan.instances[r.instance].id + " " + to_string(s), 0};
  }
  return std::nullopt;
}

void count_outcomes(const Plan& plan, RunSummary& summary) {
  for (const auto& oc : summary.outcomes) {
    switch (oc.status) {
      case Status::Done:
        ++summary.ran;
        break;
      case Status::Cached:
        ++summary.cached;
        break;
      case Status::Failed:
        ++summary.failed;
        break;
      case Status::Skipped:
        ++summary.skipped;
        break;
      case Status::Cancelled:
        ++summary.cancelled;
        break;
      case Status::Unselected:
        ++summary.unselected;
        break;
      default:
        break;
    }
  }
  // The input model is not an instance the user asked for; don't count it.
  for (std::size_t i = 0; i < plan.instances.size(); ++i)
    if (plan.instances[i].is_model() && summary.outcomes[i].status == Status::Cached) --summary.cached;
}

// Keeps an adopted lock only when it is this run's folder's; otherwise takes the folder's lock now. Fails at
// once, naming the holder, when another run is writing here.
void take_run_lock(std::unique_ptr<RunLock>& run_lock, const fs::path& output_dir, std::ostream& out) {
  if (run_lock) {
    std::error_code same_ec;
    if (!fs::equivalent(run_lock->path(), RunLock::path_for(output_dir), same_ec)) run_lock.reset();
  }
  if (!run_lock) run_lock = std::make_unique<RunLock>(output_dir);
  if (!run_lock->warning().empty()) out << "slimpipe: warning: " << run_lock->warning() << "\n";
}

// What the instances of one run share while the graph runs.
struct RunState {
  const PipelineSpec& spec;
  const Plan& plan;
  const Selection& sel;
  Lockfile& lock;
  Console& console;
  const TaskHashes& task_hashes;
  DataIdentity& data_ids;
  BuildEnv& env;
  RunSummary& summary;
  std::vector<std::vector<Artifact>>& artifacts;  // per instance, parallel to its outputs
  std::atomic<bool>& failed_any;

  // The artifacts instance i reads, in the order of its inputs, and their hashes.
  void gather_inputs(const Instance& inst, std::vector<Artifact>& inputs, std::vector<std::string>& in_hashes) {
    for (const auto& r : inst.inputs) {
      const Instance& up = plan.instances[r.instance];
      auto pos = std::find(up.outputs.begin(), up.outputs.end(), r.output) - up.outputs.begin();
      inputs.push_back(artifacts[r.instance][static_cast<std::size_t>(pos)]);
      in_hashes.push_back(inputs.back().hash());
    }
  }

  void run_instance(std::size_t i) {
    const Instance& inst = plan.instances[i];
    InstanceOutcome& oc = summary.outcomes[i];
    if (inst.is_model()) {
      oc = use_input_model(inst, spec.output_dir, artifacts[i]);
      if (oc.status == Status::Failed) console.log("model", LogLevel::Error, oc.reason);
      return;
    }
    if (auto blocked = blocked_by_inputs(plan, i, summary.outcomes, sel.selected[i])) {
      oc = *blocked;
      return;
    }
    std::vector<Artifact> inputs;
    std::vector<std::string> in_hashes;
    gather_inputs(inst, inputs, in_hashes);
    const NodeSpec& node = spec.nodes[inst.node];
    CacheKey key = cache_key(inst, *node.plugin, in_hashes, task_hashes.of(inst), data_ids.of(inst));
    const std::optional<LockEntry> entry = lock.find(inst.id);
    std::string reason = sel.forced[i] ? "forced" : stale_reason(inst, plan, key, entry, spec.output_dir);
    if (reason.empty() && load_stored(inst, artifacts[i], &reason)) {
      oc = {Status::Cached, "up to date", 0};
      if (entry->data != key.data) {  // recorded before data identities were, or a file touched: record them now
        LockEntry updated = *entry;
        updated.data = key.data;
        lock.record(updated);
      }
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

    oc = build_instance(inst, node, inputs, reason, key, env, artifacts[i]);
    if (oc.status == Status::Failed) {
      failed_any = true;
      if (spec.fail_fast) g_cancel = true;
    }
  }

  // Runs instance i inside the graph: nothing may leave it.
  void run_in_graph(std::size_t i) {
    try {
      run_instance(i);
    } catch (const std::exception& e) {
      summary.outcomes[i] = {Status::Failed, e.what(), 0};
    } catch (...) {  // nothing may leave the graph: it would end the process
      summary.outcomes[i] = {Status::Failed, "unknown exception", 0};
    }
    if (!plan.instances[i].is_model())
      console.instance_finished(plan.instances[i].id, summary.outcomes[i].status, summary.outcomes[i].seconds);
  }
};

// Commits the lock (a failure is reported and kept in the summary) and removes this run's temporary folder.
void finish_run(Lockfile& lock, RunSummary& summary, const fs::path& tmp_root, std::ostream& out) {
  std::error_code ec;
  try {
    lock.commit();
  } catch (const std::exception& e) {
    summary.lock_error = e.what();
    out << "slimpipe: error: " << e.what() << "; " << lock.journal_path().string() << " keeps this run's results\n";
  }
  fs::remove_all(tmp_root, ec);
  fs::remove(tmp_root.parent_path(), ec);  // .tmp itself, when no other run left anything there
}

}  // namespace

std::vector<PlanRow> Executor::dry_run(const RunOptions& opts) {
  Selection sel = select(plan_, opts);
  Lockfile lock(spec_.output_dir);
  lock.load();
  print_warnings(opts.log ? *opts.log : std::cerr, lock);
  const TaskHashes task_hashes = task_hashes_of(spec_);
  DataIdentity data_ids(spec_, lock);
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
    CacheKey key = cache_key(inst, plugin, in_hashes, task_hashes.of(inst), data_ids.of(inst));
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
      for (const auto& o : inst.outputs)
        hashes[i][o] = e->outputs.value(o, Json::object()).value("hash", std::string());
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
  take_run_lock(run_lock_, spec_.output_dir, out);
  const fs::path tmp_root = spec_.output_dir / ".tmp" / std::to_string(::getpid());
  remove_temp_leftovers(spec_.output_dir / ".tmp");
  // Claims and owners of workers that shared the folder: none is alive while this run holds it exclusively.
  std::error_code claims_ec;
  fs::remove_all(spec_.output_dir / ".claims", claims_ec);
  fs::remove_all(spec_.output_dir / ".workers", claims_ec);
  fs::create_directories(tmp_root);
  Lockfile lock(spec_.output_dir);
  lock.load();
  lock.hold(*run_lock_);
  print_warnings(out, lock);
  lock.set_pipeline(spec_.name);
  std::size_t runnable = 0;
  for (const auto& inst : plan_.instances) runnable += inst.is_model() ? 0 : 1;
  Console console(out, opts.level, opts.format, opts.live, spec_.output_dir / "logs" / "run.log", runnable,
                  max_parallel);

  // The task is configured once and shared by every instance.
  std::shared_ptr<Task> task = make_run_task(spec_);
  const TaskHashes task_hashes = task_hashes_of(spec_);
  DataIdentity data_ids(spec_, lock);

  const std::size_t n = plan_.instances.size();
  RunSummary summary;
  summary.outcomes.resize(n);
  std::vector<std::vector<Artifact>> artifacts(n);  // per instance, parallel to its outputs
  std::atomic<bool> failed_any{false};
  BuildEnv env{tmp_root, spec_.output_dir, spec_.seed, spec_.device, threads, task.get(), console, lock};
  RunState state{spec_, plan_, sel, lock, console, task_hashes, data_ids, env, summary, artifacts, failed_any};

  run_graph(plan_, max_parallel, [&state](std::size_t i) { state.run_in_graph(i); });
  console.close();
  finish_run(lock, summary, tmp_root, out);

  count_outcomes(plan_, summary);
  summary.interrupted = g_cancel.load() && !(spec_.fail_fast && failed_any.load());
  summary.seconds = seconds_since(t_start);
  return summary;
}

}  // namespace slimpipe::core
