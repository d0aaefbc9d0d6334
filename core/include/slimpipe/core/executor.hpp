// Runs a plan on a TBB flow graph: at most max_parallel instances at once, each with its share of
// the cores; cached instances are skipped, finished ones recorded at once, failures contained.
#pragma once

#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "slimpipe/context.hpp"
#include "slimpipe/core/lockfile.hpp"
#include "slimpipe/core/plan.hpp"
#include "slimpipe/core/run_lock.hpp"

namespace slimpipe::core {

// How a run prints (console.hpp): text (live on a terminal when `live`, plain lines elsewhere) or JSON lines.
enum class LogFormat { Text, Json };

struct RunOptions {
  std::vector<std::string> force;  // instance or node ids to rebuild even when cached
  std::vector<std::string> only;   // run only these (their inputs must be built already)
  std::vector<std::string> from;   // rebuild these and everything downstream
  int max_parallel = 0;            // 0: the pipeline's own
  LogLevel level = LogLevel::Info;
  LogFormat format = LogFormat::Text;
  bool live = false;            // redraw a status block (the CLI sets it when stderr is a terminal)
  std::ostream* log = nullptr;  // defaults to std::cerr
};

enum class Status { Pending, Cached, Done, Failed, Skipped, Cancelled, Unselected };
const char* to_string(Status s);

struct InstanceOutcome {
  Status status = Status::Pending;
  std::string reason;  // why it ran, why it failed or why it was skipped
  double seconds = 0;
};

struct RunSummary {
  std::vector<InstanceOutcome> outcomes;  // parallel to Plan::instances
  int ran = 0, cached = 0, failed = 0, skipped = 0, cancelled = 0, unselected = 0;
  bool interrupted = false;
  double seconds = 0;
  std::string lock_error;  // pipeline.lock could not be written (the journal keeps the run's results)
  int exit_code() const { return interrupted ? 130 : (failed > 0 || skipped > 0 || !lock_error.empty() ? 1 : 0); }
};

struct PlanRow {
  std::size_t instance;
  bool will_run;
  std::string reason;
};

// Ctrl-C: stop starting instances, ask running ones to stop, keep everything finished.
void request_cancel();
bool cancel_requested();
void reset_cancel();

class Executor {
 public:
  Executor(const PipelineSpec& spec, const Plan& plan);

  // What run() would do: each instance cached or will-run, with the reason. Throws Error for an
  // unknown id in the options. Takes no lock: it only reads, and works while a run holds the folder.
  // Stored outputs are checked as run() checks them (the same function), so both always agree.
  std::vector<PlanRow> dry_run(const RunOptions& opts);
  // Takes the output folder's RunLock first (FolderInUse, at once, when another process holds it) and keeps
  // it until the Executor is destroyed, so that whatever the caller writes afterwards (the run report) is
  // written under it too.
  RunSummary run(const RunOptions& opts);
  // A lock taken earlier (RunLock::before_loading); run() uses it when it is the output folder's, else
  // takes the right one.
  void adopt_run_lock(std::unique_ptr<RunLock> lock);

  int threads_per_instance(int max_parallel) const;

 private:
  const PipelineSpec& spec_;
  const Plan& plan_;
  std::unique_ptr<RunLock> run_lock_;
};

}  // namespace slimpipe::core
