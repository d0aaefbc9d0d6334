// Workers and run-instance on a shared run folder (shared_run.hpp).
#include "slimpipe/core/shared_run.hpp"

#include <sched.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "folder_scan.hpp"
#include "instance_build.hpp"
#include "slimpipe/core/claims.hpp"
#include "slimpipe/threads.hpp"

namespace slimpipe::core {

namespace {

std::size_t instances_to_build(const Plan& plan) {
  std::size_t n = 0;
  for (const auto& inst : plan.instances) n += inst.is_model() ? 0 : 1;
  return n;
}

// The cores this process may use: its CPU affinity (what a batch system gave it), at most SLURM_CPUS_PER_TASK.
int cores() {
  cpu_set_t set;
  int n = ::sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
                                                        : static_cast<int>(std::thread::hardware_concurrency());
  if (const char* per_task = std::getenv("SLURM_CPUS_PER_TASK"); per_task && std::atoi(per_task) > 0)
    n = std::min(n, std::atoi(per_task));
  return std::max(1, n);
}

// Intra-op threads of each instance when `parallel` run at once: as the local executor decides, capped by the
// pipeline's threads_per_instance, so that a result does not depend on where it was built.
int threads_for(const PipelineSpec& spec, int parallel) {
  const int fair = std::max(1, cores() / std::max(1, parallel));
  return spec.threads_per_instance > 0 ? std::min(spec.threads_per_instance, fair) : fair;
}

// What a process building in a shared run folder holds: the run lock (shared), its owner identity with the
// heartbeat, the lock file writing to its own journal, the console and the task.
struct SharedSession {
  SharedSession(const PipelineSpec& spec, const Plan& plan, const SharedRunOptions& opts, int parallel)
      : out(opts.log ? *opts.log : std::cerr),
        run_lock(spec.output_dir, LockMode::Shared),
        owner(spec.output_dir, opts.claim_timeout),
        lock(spec.output_dir),
        console(out, opts.level, opts.format, false, spec.output_dir / "logs" / "run.log", instances_to_build(plan),
                parallel),
        task(make_run_task(spec)),
        threads(threads_for(spec, parallel)),
        tmp_root(owner.tmp_root()),
        env{tmp_root, spec.output_dir, spec.seed, spec.device, threads, task.get(), console, lock} {
    if (!run_lock.warning().empty()) out << "slimpipe: warning: " << run_lock.warning() << "\n";
    set_intra_op_threads(threads);
    lock.set_owner(owner.token());
    lock.hold(run_lock);
    fs::create_directories(tmp_root);
    dead = owner.reap_dead_owners();
    lock.load();
    lock.set_pipeline(spec.name);
    for (const auto& w : lock.warnings()) out << "slimpipe: warning: " << w << "\n";
    env.before_publish = [this](const std::string& id) {
      if (!owner.holds(id))
        throw ClaimLost(id +
                        ": its claim was taken over by another process (this one's heartbeat was late); "
                        "nothing of this build was kept");
    };
  }

  // Folds this process's journal (and dead owners') into pipeline.lock; a failure is reported, the journal
  // keeps the entries.
  void commit() {
    console.close();
    for (const auto& token : owner.reap_dead_owners()) dead.insert(token);
    try {
      lock.commit_shared(dead);
    } catch (const std::exception& e) {
      out << "slimpipe: warning: " << e.what() << "; " << lock.journal_dir().string() << " keeps the results\n";
    }
  }

  std::ostream& out;
  RunLock run_lock;
  Owner owner;
  Lockfile lock;
  Console console;
  std::shared_ptr<Task> task;
  int threads;
  fs::path tmp_root;
  BuildEnv env;
  std::set<std::string> dead;
};

class Worker {
 public:
  Worker(const PipelineSpec& spec, const Plan& plan, const SharedRunOptions& opts)
      : spec_(spec), plan_(plan), opts_(opts), s_(spec, plan, opts, opts.threads), scan_(spec, plan, s_.lock) {}

  WorkerResult run() {
    try {
      schedule();
    } catch (...) {
      // The run folder could not be read (a corrupt pipeline.lock, a full disk): stop the builds in flight, keep
      // what they finished, and report the error.
      request_cancel();
      std::unique_lock<std::mutex> l(mu_);
      while (!running_.empty()) {
        l.unlock();
        reap_builds();
        l.lock();
        cv_.wait_for(l, opts_.poll, [this] { return !finished_.empty(); });
      }
      l.unlock();
      s_.commit();
      throw;
    }
    s_.commit();
    collect_failures();
    return result_;
  }

 private:
  void schedule() {
    while (true) {
      reap_builds();
      s_.lock.load();
      scan_.scan(s_.lock);
      const bool settled = start_builds();
      std::unique_lock<std::mutex> l(mu_);
      if (settled && running_.empty()) return;
      if (cancel_requested() && running_.empty()) {
        result_.interrupted = true;
        return;
      }
      cv_.wait_for(l, opts_.poll, [this] { return !finished_.empty(); });
    }
  }

  // Starts builds of ready instances while this worker has room. True when nothing is left to wait for: every
  // instance is finished, failed (during this worker's life) or blocked by a failure.
  bool start_builds() {
    bool settled = true;
    for (std::size_t i = 0; i < plan_.instances.size(); ++i) {
      const FolderRow& row = scan_.row(i);
      if (row.state == FolderState::Finished || row.state == FolderState::Blocked) continue;
      if (row.state == FolderState::Failed && row.finished >= started_) continue;  // final for this worker
      settled = false;
      if (row.state == FolderState::Waiting || cancel_requested()) continue;
      std::lock_guard<std::mutex> l(mu_);
      if (running_.count(i) || static_cast<int>(running_.size()) >= opts_.threads) continue;
      ClaimInfo dead;
      if (!s_.owner.claim(plan_.instances[i].id, &dead)) continue;  // a live process builds it
      if (!dead.owner.empty())
        s_.console.log(plan_.instances[i].id, LogLevel::Warn,
                       "took over the claim of " + dead.who() + " (no heartbeat for " +
                           std::to_string(static_cast<int>(dead.heartbeat_age)) + " s)");
      // Between the scan and the claim another process may have committed it.
      s_.lock.load();
      scan_.scan(s_.lock);
      const FolderRow& now = scan_.row(i);
      if (now.state != FolderState::Ready && !(now.state == FolderState::Failed && now.finished < started_)) {
        s_.owner.release(plan_.instances[i].id);
        continue;
      }
      launch(i, now.state == FolderState::Failed ? "failed last time: " + now.reason : now.reason);
    }
    return settled;
  }

  // Builds instance i on a thread of its own; mu_ is held by the caller.
  void launch(std::size_t i, const std::string& reason) {
    const Instance& inst = plan_.instances[i];
    std::vector<Artifact> inputs = scan_.inputs_of(i);
    CacheKey key = scan_.key(i);
    running_[i] = std::thread([this, i, &inst, inputs, key, reason] {
      std::vector<Artifact> out;
      InstanceOutcome oc;
      try {
        oc = build_instance(inst, spec_.nodes[inst.node], inputs, reason, key, s_.env, out);
      } catch (const std::exception& e) {
        oc = {Status::Failed, e.what(), 0};
      } catch (...) {  // nothing may leave the thread: it would end the process
        oc = {Status::Failed, "unknown exception", 0};
      }
      s_.console.instance_finished(inst.id, oc.status, oc.seconds);
      s_.owner.release(inst.id);
      std::lock_guard<std::mutex> l(mu_);
      if (oc.status == Status::Done) ++result_.built;
      finished_.push_back(i);
      cv_.notify_all();
    });
  }

  void reap_builds() {
    std::vector<std::thread> done;
    {
      std::lock_guard<std::mutex> l(mu_);
      for (std::size_t i : finished_) {
        done.push_back(std::move(running_[i]));
        running_.erase(i);
      }
      finished_.clear();
    }
    for (auto& t : done) t.join();
  }

  void collect_failures() {
    reap_builds();
    for (std::size_t i = 0; i < plan_.instances.size(); ++i) {
      const FolderRow& row = scan_.row(i);
      if (row.state == FolderState::Failed) result_.failed.emplace_back(plan_.instances[i].id, row.reason);
      if (row.state == FolderState::Blocked) result_.blocked.emplace_back(plan_.instances[i].id, row.reason);
    }
  }

  const PipelineSpec& spec_;
  const Plan& plan_;
  const SharedRunOptions& opts_;
  const std::string started_ = utc_now_iso();
  SharedSession s_;
  FolderScan scan_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::size_t, std::thread> running_;
  std::vector<std::size_t> finished_;
  WorkerResult result_;
};

std::size_t find_instance(const Plan& plan, const std::string& id) {
  for (std::size_t i = 0; i < plan.instances.size(); ++i)
    if (plan.instances[i].id == id && !plan.instances[i].is_model()) return i;
  const auto m = plan.match(id);
  if (m.size() == 1 && !plan.instances[m[0]].is_model()) return m[0];
  if (m.size() > 1)
    throw UsageError("run-instance " + id + ": the node has " + std::to_string(m.size()) +
                     " instances; name one (`slimpipe plan` lists them)");
  throw UsageError("run-instance " + id + ": no such instance; `slimpipe plan` lists them");
}

// Throws Error naming the first input of instance i that is not finished.
void require_inputs(const Plan& plan, const FolderScan& scan, std::size_t i) {
  const FolderRow& row = scan.row(i);
  if (row.state != FolderState::Waiting && row.state != FolderState::Blocked) return;
  std::size_t up = 0;
  while (up < plan.instances.size() && plan.instances[up].id != row.input) ++up;
  const std::string why = up < plan.instances.size()
                              ? std::string(to_string(scan.row(up).state)) + ": " + scan.row(up).reason
                              : "not built";
  throw Error("run-instance " + plan.instances[i].id + ": input " + row.input + " is not committed (" + why +
              "); build it first");
}

// A non-zero rank: computes with rank 0 in a private scratch folder, keeps nothing.
int run_as_follower(const PipelineSpec& spec, const Plan& plan, std::size_t i, const SharedRunOptions& opts, int rank) {
  std::ostream& out = opts.log ? *opts.log : std::cerr;
  Lockfile lock(spec.output_dir);
  lock.load();
  FolderScan scan(spec, plan, lock);
  scan.scan(lock);
  require_inputs(plan, scan, i);
  const fs::path scratch =
      fs::temp_directory_path() / ("slimpipe-rank" + std::to_string(rank) + "-" + std::to_string(::getpid()));
  Console console(out, opts.level, opts.format, false, scratch.string() + ".log", 1, 1);
  std::shared_ptr<Task> task = make_run_task(spec);
  const int threads = threads_for(spec, opts.threads);
  set_intra_op_threads(threads);
  const fs::path none;
  BuildEnv env{none, spec.output_dir, spec.seed, spec.device, threads, task.get(), console, lock};
  const Instance& inst = plan.instances[i];
  run_without_publishing(inst, spec.nodes[inst.node], scan.inputs_of(i), scratch, env);
  console.close();
  std::error_code ec;
  fs::remove(scratch.string() + ".log", ec);
  out << "slimpipe: rank " << rank << " ran " << inst.id << "; rank 0 commits it\n";
  return 0;
}

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  if (*end || n < 0 || n > 1000000) throw Error(std::string(name) + "=" + v + ": expected a non-negative integer");
  return static_cast<int>(n);
}

}  // namespace

int data_parallel_rank() {
  if (env_int("WORLD_SIZE", 1) > 1) return env_int("RANK", 0);
  // Slurm's variables count inside an srun step only: a batch script of an --ntasks=N job is one process.
  const char* step = std::getenv("SLURM_STEP_ID");
  if (step && *step && env_int("SLURM_NTASKS", 1) > 1) return env_int("SLURM_PROCID", 0);
  return 0;
}

WorkerResult run_worker(const PipelineSpec& spec, const Plan& plan, const SharedRunOptions& opts) {
  Worker w(spec, plan, opts);
  return w.run();
}

int run_single_instance(const PipelineSpec& spec, const Plan& plan, const std::string& id,
                        const SharedRunOptions& opts) {
  const std::size_t i = find_instance(plan, id);
  const Instance& inst = plan.instances[i];
  if (const int rank = data_parallel_rank(); rank > 0) return run_as_follower(spec, plan, i, opts, rank);
  SharedSession s(spec, plan, opts, 1);
  FolderScan scan(spec, plan, s.lock);
  scan.scan(s.lock);
  require_inputs(plan, scan, i);
  if (scan.row(i).state == FolderState::Finished) {
    s.out << "slimpipe: " << inst.id << " is up to date\n";
    s.commit();
    return 0;
  }
  ClaimInfo holder;
  const bool claimed = s.owner.claim(inst.id, &holder);
  if (claimed && !holder.owner.empty())
    s.console.log(inst.id, LogLevel::Warn, "took over the claim of " + holder.who() + " (no heartbeat)");
  if (!claimed)
    throw Error("run-instance " + inst.id + ": claimed by " + holder.who() + " (heartbeat " +
                std::to_string(static_cast<int>(holder.heartbeat_age)) + " s ago); it is being built there");
  s.lock.load();
  scan.scan(s.lock);
  InstanceOutcome oc{Status::Cached, "up to date", 0};
  if (scan.row(i).state != FolderState::Finished) {
    std::vector<Artifact> out;
    oc = build_instance(inst, spec.nodes[inst.node], scan.inputs_of(i), scan.row(i).reason, scan.key(i), s.env, out);
    s.console.instance_finished(inst.id, oc.status, oc.seconds);
  }
  s.owner.release(inst.id);
  s.commit();
  if (oc.status == Status::Failed) s.out << "slimpipe: failed: " << inst.id << ": " << oc.reason << "\n";
  if (oc.status == Status::Cancelled) s.out << "slimpipe: not committed: " << inst.id << ": " << oc.reason << "\n";
  return oc.status == Status::Done || oc.status == Status::Cached ? 0 : oc.status == Status::Cancelled ? 130 : 1;
}

}  // namespace slimpipe::core
