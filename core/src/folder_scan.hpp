// The state of every instance in a run folder, read from pipeline.lock, its journals and the stored outputs,
// with each finished instance's artifacts (what an instance that runs next reads). Used by workers, run-instance,
// `slimpipe status` and the Slurm executor.
#pragma once

#include <vector>

#include "cache_decision.hpp"
#include "slimpipe/artifact.hpp"
#include "slimpipe/core/shared_run.hpp"

namespace slimpipe::core {

class FolderScan {
 public:
  // Data identities start from what `lock` recorded (a data file is re-read only when it changed).
  FolderScan(const PipelineSpec& spec, const Plan& plan, const Lockfile& lock);
  // Refreshes every row from `lock`, loaded by the caller.
  void scan(const Lockfile& lock);
  const std::vector<FolderRow>& rows() const { return rows_; }
  const FolderRow& row(std::size_t i) const { return rows_[i]; }
  const CacheKey& key(std::size_t i) const { return keys_[i]; }
  // The artifacts instance i reads, in the order of its inputs (all of them finished).
  std::vector<Artifact> inputs_of(std::size_t i) const;

 private:
  void scan_one(std::size_t i, const Lockfile& lock);

  const PipelineSpec& spec_;
  const Plan& plan_;
  TaskHashes task_hashes_;
  DataIdentity data_ids_;
  std::vector<FolderRow> rows_;
  std::vector<CacheKey> keys_;
  std::vector<std::vector<Artifact>> artifacts_;  // per instance, parallel to its outputs (finished ones only)
};

}  // namespace slimpipe::core
