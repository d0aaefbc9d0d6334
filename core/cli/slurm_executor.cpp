// The Slurm executor (slurm_executor.hpp).
#include "slurm_executor.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "slimpipe/core/artifact_store.hpp"
#include "slimpipe/core/lockfile.hpp"
#include "slimpipe/core/run_lock.hpp"
#include "slimpipe/core/shared_run.hpp"
#include "slimpipe/error.hpp"

namespace slimpipe::cli {

using namespace slimpipe::core;

namespace {

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs a shell command; its exit status and what it printed (stdout and stderr).
std::pair<int, std::string> run_shell(const std::string& cmd) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return {127, "cannot start: " + cmd};
  std::string out;
  std::array<char, 4096> buf;
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128, out};
}

std::string file_name_part(const std::string& s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '_';
  return out;
}

// One node's instances that must run: one job (an array when there are several).
struct NodeJob {
  std::size_t node;
  std::vector<std::size_t> instances;
  std::set<std::size_t> after;  // indexes of the NodeJobs it waits for
  std::string job;              // the job id sbatch gave
};

// The jobs to submit, in an order where every job comes after those it waits for.
std::vector<NodeJob> group_by_node(const Plan& plan, const std::vector<FolderRow>& rows) {
  std::vector<NodeJob> jobs;
  std::map<std::size_t, std::size_t> job_of_node;
  for (std::size_t i = 0; i < plan.instances.size(); ++i) {
    const Instance& inst = plan.instances[i];
    if (inst.is_model() || rows[i].state == FolderState::Finished) continue;
    auto [it, fresh] = job_of_node.emplace(inst.node, jobs.size());
    if (fresh) jobs.push_back(NodeJob{inst.node, {}, {}, ""});
    jobs[it->second].instances.push_back(i);
    for (std::size_t up : inst.upstream) {
      const Instance& u = plan.instances[up];
      if (u.is_model() || rows[up].state == FolderState::Finished) continue;
      jobs[it->second].after.insert(job_of_node.at(u.node));
    }
  }
  return jobs;
}

// The batch script of a job: picks its instance by the array index and runs `slimpipe run-instance`.
std::string job_script(const Plan& plan, const NodeJob& job, const SlurmRunOptions& o) {
  std::ostringstream s;
  s << "#!/bin/bash\n# slimpipe run --executor slurm: one instance of this node per array task\nset -u\nids=(";
  for (std::size_t i : job.instances) s << " " << quote(plan.instances[i].id);
  s << " )\nexec " << quote(o.exe.string()) << " run-instance " << quote(o.pipeline.string())
    << " \"${ids[${SLURM_ARRAY_TASK_ID:-0}]}\"";
  for (const auto& p : o.plugin_paths) s << " --plugin-path " << quote(p);
  for (const auto& v : o.sets) s << " --set " << quote(v);
  if (!o.claim_timeout.empty()) s << " --claim-timeout " << quote(o.claim_timeout);
  s << " --log-format plain\n";
  return s.str();
}

std::string submit(const PipelineSpec& spec, const Plan& plan, const std::vector<NodeJob>& jobs, const NodeJob& job,
                   const SlurmRunOptions& o) {
  const std::string node = file_name_part(spec.nodes[job.node].id);
  const fs::path dir = spec.output_dir / ".slurm";
  const fs::path script = dir / "scripts" / (node + ".sh");
  fs::create_directories(dir / "scripts");
  fs::create_directories(dir / "logs");
  write_file_durably(script, job_script(plan, job, o));
  const bool array = job.instances.size() > 1;
  std::string cmd = "sbatch --parsable --kill-on-invalid-dep=yes --job-name=" + quote("slimpipe-" + node) +
                    " --chdir=" + quote(fs::current_path().string()) +
                    " --output=" + quote((dir / "logs" / (node + (array ? "_%A_%a.log" : "_%j.log"))).string());
  if (array) cmd += " --array=0-" + std::to_string(job.instances.size() - 1);
  if (!job.after.empty()) {
    std::string deps;
    for (std::size_t a : job.after) deps += ":" + jobs[a].job;
    cmd += " --dependency=afterok" + deps;
  }
  for (const auto& opt : o.slurm_opts) cmd += " " + quote(opt.rfind("-", 0) == 0 ? opt : "--" + opt);
  cmd += " " + quote(script.string());
  const auto [rc, out] = run_shell(cmd);
  std::string id = out.substr(0, out.find_first_of(";\n"));
  if (rc != 0 || id.empty() || id.find_first_not_of("0123456789") != std::string::npos)
    throw Error("sbatch refused the job of node " + spec.nodes[job.node].id + " (exit " + std::to_string(rc) +
                "): " + out.substr(0, out.find_last_not_of("\n") + 1));
  return id;
}

std::string log_of(const PipelineSpec& spec, const NodeJob& job, std::size_t task) {
  const std::string node = file_name_part(spec.nodes[job.node].id);
  const bool array = job.instances.size() > 1;
  return (fs::path(".slurm") / "logs" /
          (node + "_" + job.job + (array ? "_" + std::to_string(task) : std::string()) + ".log"))
      .generic_string();
}

std::string job_of(const NodeJob& job, std::size_t task) {
  return job.instances.size() > 1 ? job.job + "_" + std::to_string(task) : job.job;
}

void write_jobs_json(const PipelineSpec& spec, const Plan& plan, const std::vector<NodeJob>& jobs,
                     const SlurmRunOptions& o) {
  Json j{{"pipeline", o.pipeline.string()}, {"submitted", utc_now_iso()}, {"jobs", Json::array()}};
  for (const auto& job : jobs) {
    if (job.job.empty()) continue;
    Json cells = Json::array();
    for (std::size_t t = 0; t < job.instances.size(); ++t)
      cells.push_back(
          {{"id", plan.instances[job.instances[t]].id}, {"job", job_of(job, t)}, {"log", log_of(spec, job, t)}});
    j["jobs"].push_back({{"node", spec.nodes[job.node].id},
                         {"job", job.job},
                         {"array", job.instances.size() > 1},
                         {"instances", cells}});
  }
  write_file_durably(spec.output_dir / ".slurm" / "jobs.json", j.dump(1) + "\n");
}

// The jobs squeue still lists, of those submitted (an array's tasks count one by one).
std::size_t live_jobs(const std::vector<NodeJob>& jobs, const std::map<std::string, std::string>& states) {
  std::size_t live = 0;
  for (const auto& [id, state] : states)
    for (const auto& job : jobs)
      if (!job.job.empty() && (id == job.job || id.rfind(job.job + "_", 0) == 0)) ++live;
  return live;
}

void cancel_all(const std::vector<NodeJob>& jobs, std::ostream& out) {
  std::string ids;
  for (const auto& job : jobs)
    if (!job.job.empty()) ids += " " + job.job;
  if (ids.empty()) return;
  const auto [rc, text] = run_shell("scancel" + ids);
  out << "slimpipe: scancel" << ids << (rc == 0 ? "" : " failed: " + text) << "\n";
}

// The outcome of every instance once no job is left: what the run folder says, with the job's log for a failure.
RunSummary summarize(const PipelineSpec& spec, const Plan& plan, const std::vector<NodeJob>& jobs, bool interrupted) {
  const std::vector<FolderRow> rows = scan_run_folder(spec, plan);
  RunSummary s;
  s.outcomes.resize(plan.instances.size(), InstanceOutcome{Status::Cached, "up to date", 0});
  s.interrupted = interrupted;
  for (const auto& job : jobs)
    for (std::size_t t = 0; t < job.instances.size(); ++t) {
      const std::size_t i = job.instances[t];
      const FolderRow& row = rows[i];
      const std::string where =
          "Slurm job " + job_of(job, t) + ", log " + (spec.output_dir / log_of(spec, job, t)).string();
      InstanceOutcome& oc = s.outcomes[i];
      if (row.state == FolderState::Finished)
        oc = {Status::Done, "ran as " + where, 0};
      else if (row.state == FolderState::Failed)
        oc = {Status::Failed, row.reason + " (" + where + ")", 0};
      else if (row.state == FolderState::Blocked)
        oc = {Status::Skipped, row.reason, 0};
      else if (interrupted)
        oc = {Status::Cancelled, "cancelled (scancel)", 0};
      else
        oc = {Status::Failed, "the job ended without committing a result (" + where + ")", 0};
    }
  for (std::size_t i = 0; i < plan.instances.size(); ++i) {
    if (plan.instances[i].is_model()) continue;
    const Status st = s.outcomes[i].status;
    s.ran += st == Status::Done;
    s.cached += st == Status::Cached;
    s.failed += st == Status::Failed;
    s.skipped += st == Status::Skipped;
    s.cancelled += st == Status::Cancelled;
  }
  return s;
}

}  // namespace

std::map<std::string, std::string> squeue_states() {
  std::map<std::string, std::string> states;
  const auto [rc, out] = run_shell("squeue -h -r -o '%i %T'");
  if (rc != 0) return states;
  std::istringstream in(out);
  std::string id, state;
  while (in >> id >> state) states[id] = state;
  return states;
}

std::map<std::string, SlurmJobRef> read_slurm_jobs(const fs::path& run_dir) {
  std::map<std::string, SlurmJobRef> out;
  std::ifstream in(run_dir / ".slurm" / "jobs.json");
  if (!in) return out;
  const Json j = Json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return out;
  for (const auto& job : j.value("jobs", Json::array()))
    for (const auto& cell : job.value("instances", Json::array()))
      out[cell.value("id", std::string())] = {cell.value("job", std::string()), cell.value("log", std::string())};
  return out;
}

RunSummary run_on_slurm(const PipelineSpec& spec, const Plan& plan, const SlurmRunOptions& o) {
  std::ostream& out = std::cerr;
  const auto t0 = std::chrono::steady_clock::now();
  // Held shared while the jobs run: a plain `run` on the folder is refused meanwhile.
  RunLock run_lock(spec.output_dir, LockMode::Shared);
  const std::vector<FolderRow> rows = scan_run_folder(spec, plan);
  for (std::size_t i = 0; i < plan.instances.size(); ++i)
    if (plan.instances[i].is_model() && rows[i].state == FolderState::Failed) throw Error(rows[i].reason);
  std::vector<NodeJob> jobs = group_by_node(plan, rows);
  try {
    for (auto& job : jobs) {
      job.job = submit(spec, plan, jobs, job, o);
      write_jobs_json(spec, plan, jobs, o);  // after each job, so that a crash here leaves every id recorded
      out << "slimpipe: node " << spec.nodes[job.node].id << ": " << job.instances.size() << " instance"
          << (job.instances.size() == 1 ? "" : "s") << " submitted as Slurm job " << job.job << "\n";
    }
  } catch (const std::exception&) {
    cancel_all(jobs, out);  // half a pipeline in the queue would wait for jobs that never come
    throw;
  }
  bool interrupted = false;
  std::string last;
  while (!jobs.empty()) {
    if (cancel_requested()) {
      cancel_all(jobs, out);
      interrupted = true;
      break;
    }
    const std::size_t live = live_jobs(jobs, squeue_states());
    std::size_t done = 0, total = 0;
    const std::vector<FolderRow> now = scan_run_folder(spec, plan);
    for (const auto& job : jobs)
      for (std::size_t i : job.instances) done += now[i].state == FolderState::Finished, ++total;
    const std::string line = std::to_string(done) + "/" + std::to_string(total) + " finished, " + std::to_string(live) +
                             " job" + (live == 1 ? "" : "s") + " queued or running";
    if (line != last) out << "slimpipe: slurm: " << line << "\n";
    last = line;
    if (live == 0) break;
    std::this_thread::sleep_for(o.poll);
  }
  RunSummary s = summarize(spec, plan, jobs, interrupted);
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

}  // namespace slimpipe::cli
