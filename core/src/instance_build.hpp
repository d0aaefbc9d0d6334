// Building one instance whose inputs are ready: the strategy writes under a temp folder of the run, what it wrote
// is published once complete (instance_outputs.hpp) and the lock records the outcome. Used by the local executor,
// `slimpipe worker` and `slimpipe run-instance`.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cache_decision.hpp"
#include "console.hpp"
#include "slimpipe/core/executor.hpp"
#include "slimpipe/strategy.hpp"
#include "slimpipe/task.hpp"

namespace slimpipe::core {

// This process no longer holds the instance's claim (another took it over after a late heartbeat): the instance
// is given up without recording anything, as the new holder builds it.
class ClaimLost : public Error {
 public:
  using Error::Error;
};

// What every instance of a run that builds shares.
struct BuildEnv {
  const fs::path& tmp_root;
  const fs::path& output_dir;
  std::uint64_t seed;
  const std::string& device;
  int threads;
  Task* task;
  Console& console;
  Lockfile& lock;
  // Called after the strategy ran and before anything is published; throws to give the instance up (a shared
  // run folder: this process lost its claim).
  std::function<void(const std::string& id)> before_publish = nullptr;
};

// Runs one instance whose inputs are ready and that must run: the strategy writes under tmp_root, what it wrote
// is published once complete, and the lock records the outcome either way (nothing is kept of a failed or
// interrupted instance). Appends the instance's artifacts to `artifacts` when it is done.
InstanceOutcome build_instance(const Instance& inst, const NodeSpec& node, const std::vector<Artifact>& inputs,
                               const std::string& reason, const CacheKey& key, BuildEnv& env,
                               std::vector<Artifact>& artifacts);

// Runs the instance's strategy with its outputs in `scratch` and keeps nothing: a non-zero rank of a data-parallel
// group computes with rank 0, which alone publishes. Removes `scratch` whatever happens; rethrows the strategy's
// error.
void run_without_publishing(const Instance& inst, const NodeSpec& node, const std::vector<Artifact>& inputs,
                            const fs::path& scratch, BuildEnv& env);

// The task, configured once and shared by every instance; null when the pipeline has none.
std::shared_ptr<Task> make_run_task(const PipelineSpec& spec);

}  // namespace slimpipe::core
