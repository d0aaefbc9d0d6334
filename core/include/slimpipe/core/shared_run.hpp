// A run folder many processes build together (claims.hpp): `slimpipe worker` (claim a ready instance, build it,
// commit it, repeat), `slimpipe run-instance` (one instance, e.g. one Slurm job) and the read-only view of a folder
// that `slimpipe status` and the Slurm executor use.
#pragma once

#include <chrono>
#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

#include "slimpipe/core/executor.hpp"
#include "slimpipe/core/pipeline_spec.hpp"
#include "slimpipe/core/plan.hpp"

namespace slimpipe::core {

struct SharedRunOptions {
  std::chrono::milliseconds claim_timeout{60000};  // a claim whose heartbeat is older is taken over
  int threads = 1;                                 // instances this process builds at once
  std::chrono::milliseconds poll{500};             // how often a waiting worker looks again
  LogLevel level = LogLevel::Info;
  LogFormat format = LogFormat::Text;
  std::ostream* log = nullptr;  // defaults to std::cerr
};

// Where an instance stands in the run folder.
enum class FolderState {
  Finished,  // built and up to date (its outputs match pipeline.lock and the inputs)
  Failed,    // its last build with these inputs and parameters failed
  Ready,     // must be built, and every input is finished
  Waiting,   // an input is not finished yet
  Blocked,   // an input failed or cannot be built
};
const char* to_string(FolderState s);

struct FolderRow {
  FolderState state = FolderState::Waiting;
  std::string reason;    // why it must run, why it failed, which input it waits for
  std::string finished;  // when the failure was recorded (ISO 8601, UTC)
  std::string input;     // Waiting / Blocked: the input in question
};

// Every instance's state, parallel to plan.instances (the input model: Finished or Failed). Reads only.
std::vector<FolderRow> scan_run_folder(const PipelineSpec& spec, const Plan& plan,
                                       std::vector<std::string>* warnings = nullptr);

struct WorkerResult {
  int built = 0;
  std::vector<std::pair<std::string, std::string>> failed;   // instance, error (this worker's or another's)
  std::vector<std::pair<std::string, std::string>> blocked;  // instance, the failed input
  bool interrupted = false;
  int exit_code() const { return interrupted ? 130 : (failed.empty() && blocked.empty() ? 0 : 1); }
};

// `slimpipe worker`: holds the folder's run lock shared (a plain `run` is refused meanwhile), then claims and
// builds ready instances until every instance is finished, failed or blocked by a failure. Failures recorded
// before the worker started are retried. Throws FolderInUse while a plain run holds the folder.
WorkerResult run_worker(const PipelineSpec& spec, const Plan& plan, const SharedRunOptions& opts);

// `slimpipe run-instance`: builds exactly the instance `id` under a claim and commits it (0), or reports it up
// to date (0). Throws Error naming the input when an input is not finished, or the holder when another process
// has claimed it; returns 1 when the instance fails. A non-zero rank of a data-parallel group (data_parallel_rank)
// runs it in a private scratch folder, removed afterwards, without claiming or committing anything.
int run_single_instance(const PipelineSpec& spec, const Plan& plan, const std::string& id,
                        const SharedRunOptions& opts);

// This process's rank in a data-parallel group: RANK when WORLD_SIZE > 1 (torchrun, `slimpipe launch`), else
// SLURM_PROCID when SLURM_NTASKS > 1 inside an srun step (SLURM_STEP_ID set), else 0, as
// slimpipe::train::DistributedEnv decides. Throws Error naming a malformed variable.
int data_parallel_rank();

}  // namespace slimpipe::core
