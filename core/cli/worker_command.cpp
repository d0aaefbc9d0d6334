// `slimpipe worker`, `slimpipe run-instance` and `slimpipe status`: the commands of a shared run folder.
#include <boost/program_options.hpp>
#include <csignal>
#include <iomanip>
#include <iostream>
#include <optional>

#include "slimpipe/core/claims.hpp"
#include "slimpipe/core/lockfile.hpp"
#include "slimpipe/core/plugin_registry.hpp"
#include "slimpipe/core/shared_run.hpp"
#include "slurm_executor.hpp"

namespace po = boost::program_options;

namespace slimpipe::cli {

using namespace slimpipe::core;

namespace {

struct SharedArgs {
  std::vector<std::string> plugin_paths, sets;
  std::string pipeline, instance;
  std::string claim_timeout = "60s";
  int threads = 1;
  bool quiet = false, verbose = false;
  std::string log_format = "plain";
};

// Parses the command line; an exit status when the command ends here (help, a usage error).
std::optional<int> parse(const std::string& cmd, const std::vector<std::string>& args, SharedArgs& a,
                         const char* usage) {
  po::options_description d("options");
  d.add_options()("help,h", "show this help")("plugin-path", po::value(&a.plugin_paths)->composing(),
                                              "folder to search for plugins first (repeatable)")(
      "set", po::value(&a.sets)->composing(), "override a value of the pipeline file (repeatable)");
  d.add_options()("claim-timeout", po::value(&a.claim_timeout),
                  "a claim whose heartbeat is older is taken over (default 60s; e.g. 30s, 500ms, 2m)");
  if (cmd != "status")
    d.add_options()("quiet,q", po::bool_switch(&a.quiet), "only warnings and errors")(
        "verbose,v", po::bool_switch(&a.verbose), "debug output")("log-format", po::value(&a.log_format),
                                                                  "plain (default) or json");
  if (cmd == "worker")
    d.add_options()("threads", po::value(&a.threads), "instances this worker builds at once (default 1)");
  po::options_description hidden;
  hidden.add_options()("pipeline", po::value(&a.pipeline))("instance", po::value(&a.instance));
  po::options_description all;
  all.add(d).add(hidden);
  po::positional_options_description p;
  p.add("pipeline", 1);
  if (cmd == "run-instance") p.add("instance", 1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(all).positional(p).run(), vm);
  po::notify(vm);
  const bool incomplete = a.pipeline.empty() || (cmd == "run-instance" && a.instance.empty());
  if (vm.count("help") || incomplete) {
    std::cout << usage << "\n" << d;
    return incomplete && !vm.count("help") ? 2 : 0;
  }
  if (a.threads < 1 || a.threads > kMaxParallel)
    throw UsageError("--threads must be between 1 and " + std::to_string(kMaxParallel) + ", got " +
                     std::to_string(a.threads));
  if (a.log_format != "plain" && a.log_format != "text" && a.log_format != "json")
    throw UsageError("--log-format " + a.log_format + ": expected plain or json");
  return std::nullopt;
}

// Ctrl-C or SIGTERM (scancel): stop claiming, let running instances stop, release the claims.
void on_stop_signal(int) { request_cancel(); }

SharedRunOptions options_of(const SharedArgs& a) {
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  SharedRunOptions o;
  o.claim_timeout = parse_claim_timeout(a.claim_timeout, "--claim-timeout");
  o.threads = a.threads;
  o.level = a.quiet ? LogLevel::Warn : a.verbose ? LogLevel::Debug : LogLevel::Info;
  o.format = a.log_format == "json" ? LogFormat::Json : LogFormat::Text;
  return o;
}

struct Loaded {
  PluginRegistry reg;
  PipelineSpec spec;
  Plan plan;
};

std::unique_ptr<Loaded> load(const SharedArgs& a) {
  auto l = std::make_unique<Loaded>();
  l->reg.scan(PluginRegistry::search_path(a.plugin_paths));
  for (const auto& p : l->reg.problems()) std::cerr << "slimpipe: warning: " << p.message << "\n";
  l->spec = load_pipeline(a.pipeline, a.sets, l->reg);
  l->plan = make_plan(l->spec);
  return l;
}

std::string age_text(double seconds) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(seconds < 10 ? 1 : 0) << std::max(0.0, seconds) << " s ago";
  return s.str();
}

// One instance's line of `slimpipe status`.
std::string status_line(const FolderRow& row, double timeout_s, const std::optional<ClaimInfo>& claim,
                        const std::optional<SlurmJobRef>& job, const std::map<std::string, std::string>& queue) {
  const std::string log = job && !job->log.empty() ? " (log " + job->log + ")" : "";
  std::string slurm;
  if (job) {
    const auto q = queue.find(job->job);
    slurm = "submitted as Slurm job " + job->job + (q != queue.end() ? " (" + q->second + ")" : "") + log;
  }
  if (row.state == FolderState::Finished) return "finished";
  if (claim)
    return "claimed by " + claim->who() + ", heartbeat " + age_text(claim->heartbeat_age) +
           (claim->heartbeat_age > timeout_s ? " (dead: the next worker takes it over)" : "") +
           (slurm.empty() ? "" : "; " + slurm);
  if (row.state == FolderState::Failed) return "failed: " + row.reason + log;
  if (job) return slurm;
  if (row.state == FolderState::Ready) return "pending: " + row.reason;
  if (row.state == FolderState::Waiting) return "pending: " + row.reason;
  return "blocked: " + row.reason;
}

int print_status(const SharedArgs& a) {
  const double timeout_s = static_cast<double>(parse_claim_timeout(a.claim_timeout, "--claim-timeout").count()) / 1000;
  auto l = load(a);
  const fs::path run = l->spec.output_dir;
  std::vector<std::string> warnings;
  const std::vector<FolderRow> rows = scan_run_folder(l->spec, l->plan, &warnings);
  for (const auto& w : warnings) std::cerr << "slimpipe: warning: " << w << "\n";
  const auto claims = list_claims(run);
  const auto jobs = read_slurm_jobs(run);
  const auto queue = jobs.empty() ? std::map<std::string, std::string>() : squeue_states();
  std::map<std::string, int> counts;
  for (std::size_t i = 0; i < l->plan.instances.size(); ++i) {
    const Instance& inst = l->plan.instances[i];
    if (inst.is_model()) continue;
    const auto c = claims.find(inst.id);
    const auto j = jobs.find(inst.id);
    const std::string line =
        status_line(rows[i], timeout_s, c == claims.end() ? std::nullopt : std::optional(c->second),
                    j == jobs.end() ? std::nullopt : std::optional(j->second), queue);
    ++counts[line.substr(0, line.find_first_of(" :"))];
    std::cout << inst.id << "  " << line << "\n";
  }
  std::cout << run.string() << ":";
  for (const auto& [what, n] : counts) std::cout << " " << n << " " << what;
  std::cout << "\n";
  return 0;
}

// `slimpipe status RUN_FOLDER`: what the folder records, without the plan (pending instances are not known).
int print_folder_status(const fs::path& run) {
  Lockfile lock(run);
  lock.load();
  const auto claims = list_claims(run);
  const auto jobs = read_slurm_jobs(run);
  for (const auto& e : lock.entries())
    std::cout << e.id << "  " << (e.status == "done" ? std::string("finished") : "failed: " + e.error) << "\n";
  for (const auto& [id, c] : claims)
    std::cout << id << "  claimed by " << c.who() << ", heartbeat " << age_text(c.heartbeat_age) << "\n";
  for (const auto& [id, j] : jobs)
    if (!lock.find(id)) std::cout << id << "  submitted as Slurm job " << j.job << " (log " << j.log << ")\n";
  std::cout << run.string() << ": " << lock.entries().size() << " recorded, " << claims.size()
            << " claimed; give the pipeline file to see pending instances too\n";
  return 0;
}

// Parses the command line and runs `body` with it, or ends with parse's exit status (help, a usage error).
template <class Body>
int with_args(const std::string& cmd, const std::vector<std::string>& args, const char* usage, Body body) {
  SharedArgs a;
  if (auto done = parse(cmd, args, a, usage)) return *done;
  return body(a);
}

int worker_body(const SharedArgs& a) {
  const SharedRunOptions o = options_of(a);
  auto l = load(a);
  const WorkerResult r = run_worker(l->spec, l->plan, o);
  for (const auto& [id, why] : r.failed) std::cerr << "slimpipe: failed: " << id << ": " << why << "\n";
  for (const auto& [id, why] : r.blocked) std::cerr << "slimpipe: skipped: " << id << ": " << why << "\n";
  std::cerr << "slimpipe: worker built " << r.built << " instance" << (r.built == 1 ? "" : "s") << "; "
            << r.failed.size() << " failed, " << r.blocked.size() << " skipped"
            << (r.interrupted ? "; interrupted" : "") << "; output in " << l->spec.output_dir.string() << "\n";
  return r.exit_code();
}

constexpr const char* kWorkerUsage =
    "usage: slimpipe worker PIPELINE.toml [--claim-timeout 60s] [--threads N]\n\n"
    "Builds the pipeline together with any number of other workers on the same run folder (one\n"
    "host or several over a shared file system): claims a ready instance, builds it, commits\n"
    "it, and repeats until every instance is finished. Exit status 0 when all are finished, 1\n"
    "when one failed (named), 130 when interrupted.\n";

constexpr const char* kRunInstanceUsage =
    "usage: slimpipe run-instance PIPELINE.toml INSTANCE_ID [--claim-timeout 60s]\n\n"
    "Builds exactly one instance under a claim and commits it to the run folder; its inputs\n"
    "must be finished. A non-zero rank of a data-parallel group (RANK with WORLD_SIZE > 1, or\n"
    "SLURM_PROCID with SLURM_NTASKS > 1 under srun) computes in a private scratch folder and commits\n"
    "nothing: rank 0 commits.\n";

constexpr const char* kStatusUsage =
    "usage: slimpipe status PIPELINE.toml|RUN_FOLDER\n\n"
    "Each instance: finished, claimed by host:pid (with its heartbeat's age), submitted as a\n"
    "Slurm job, pending, or failed (with the job's log). A claim whose heartbeat is older than\n"
    "--claim-timeout is marked dead.\n";

}  // namespace

int cmd_worker(const std::vector<std::string>& args) { return with_args("worker", args, kWorkerUsage, worker_body); }

int cmd_run_instance(const std::vector<std::string>& args) {
  return with_args("run-instance", args, kRunInstanceUsage, [](const SharedArgs& a) {
    const SharedRunOptions o = options_of(a);
    auto l = load(a);
    return run_single_instance(l->spec, l->plan, a.instance, o);
  });
}

int cmd_status(const std::vector<std::string>& args) {
  return with_args("status", args, kStatusUsage, [](const SharedArgs& a) {
    return fs::is_directory(a.pipeline) ? print_folder_status(a.pipeline) : print_status(a);
  });
}

}  // namespace slimpipe::cli
