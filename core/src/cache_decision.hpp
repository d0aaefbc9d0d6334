// Whether an instance's stored result is still valid: its cache key (plugin, parameters, inputs, task and
// the identity of every data file it reads) and, when the key differs from the lock entry's, why.
#pragma once

#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "slimpipe/core/lockfile.hpp"
#include "slimpipe/core/pipeline_spec.hpp"
#include "slimpipe/core/plan.hpp"

namespace slimpipe::core {

// Identity of an external model folder without reading every byte: its manifest's hash, else the
// names, sizes and modification times of its files (`exclude`, the run's own output folder, is skipped).
std::string external_dir_hash(const fs::path& dir, const fs::path& exclude);

// The identity of the task's data files (its Path parameters: train, eval, test, ...): for a file its size,
// modification time and SHA-1 of its bytes; for a folder external_dir_hash. A file whose size and
// modification time match what the lock recorded keeps the recorded SHA-1 (as make and git do), so a plan
// re-reads only what changed. Thread-safe.
class DataIdentity {
 public:
  DataIdentity(const PipelineSpec& spec, const Lockfile& lock);
  // {"task.<param>": {path, size, mtime, sha1} | {path, dir: hash} | {path, missing: true}}; the test-only
  // files only for an instance that reads the test split.
  Json of(const Instance& inst);

 private:
  Json identify(const fs::path& path);
  const PipelineSpec& spec_;
  Json task_paths_ = Json::object();  // task parameter -> absolute path
  std::mutex mu_;
  std::map<std::string, Json> seen_;      // path -> identity, this process
  std::map<std::string, Json> recorded_;  // path -> identity, from the lock
};

// Everything that decides whether an instance's stored result is still valid.
struct CacheKey {
  Json plugin;
  std::vector<std::string> input_hashes;
  std::string task_hash;
  Json data = Json::object();
  std::string hash;
};

// The task's part of the cache key. The test-only parameters (test file, synthetic_test_size) count only
// for instances that read the test split (tasks::reads_test_split), so adding a test file reruns no
// training, pruning or calibration; without them both hashes are the one of all parameters.
struct TaskHashes {
  std::string dev, with_test;
  const std::string& of(const Instance& inst) const;
};
TaskHashes task_hashes_of(const PipelineSpec& spec);

CacheKey cache_key(const Instance& inst, const PluginInfo& plugin, std::vector<std::string> input_hashes,
                   const std::string& task_hash, Json data);

// "" when the stored result is valid, else why the instance must run. An entry from before data identities
// were recorded is judged without them.
std::string stale_reason(const Instance& inst, const Plan& plan, const CacheKey& key, const std::optional<LockEntry>& e,
                         const fs::path& output_dir);

// The lock entry of an instance about to run; status and timing are filled in when it ends.
LockEntry entry_for(const Instance& inst, const CacheKey& key);

}  // namespace slimpipe::core
