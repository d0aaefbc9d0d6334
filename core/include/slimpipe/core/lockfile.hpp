// pipeline.lock: what each instance was built from (plugin, parameters, input hashes) and what it
// produced. Finished instances are appended to pipeline.lock.journal at once (every write checked, then
// fdatasync), so a killed run loses nothing; the journal is folded into pipeline.lock (written durably)
// when a run ends. Only the run holding the folder's RunLock writes either file.
// In a shared run folder (claims.hpp) each process appends to a journal of its own,
// pipeline.lock.d/<owner>.journal; readers merge every journal with pipeline.lock (the entry finished last wins),
// and pipeline.lock is rewritten under a short flock on pipeline.lock.d/.lock, which readers take shared.
#pragma once

#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "slimpipe/params.hpp"

namespace slimpipe::core {

namespace fs = std::filesystem;

struct LockEntry {
  std::string id;
  std::string hash;              // cache key: plugin, parameters, inputs, task
  std::string status;            // "done" or "failed"
  Json plugin = Json::object();  // {name, version, fingerprint}
  Json params = Json::object();
  std::vector<std::string> input_hashes;
  std::string task_hash;
  Json data = Json::object();     // data files read: name -> {path, size, mtime, sha1} (cache_decision.hpp)
  Json outputs = Json::object();  // name -> {path (relative to output_dir), hash}
  std::string error;
  double seconds = 0;
  std::string finished;  // ISO 8601, UTC

  Json to_json() const;
  static LockEntry from_json(const Json& j);
};

class RunLock;

class Lockfile {
 public:
  explicit Lockfile(fs::path output_dir);
  ~Lockfile();

  // Reads pipeline.lock and replays the journal left by an interrupted run. A corrupt lock is an
  // Error naming the file; an empty (0-byte) one holds no entries, with a warning. A torn journal line
  // (a kill or a full disk mid-write: no newline at its end, or not JSON) is ignored, with a warning.
  void load();
  // What load() found wrong but could go on from, one line each.
  const std::vector<std::string>& warnings() const { return warnings_; }
  std::optional<LockEntry> find(const std::string& id) const;
  // Allows record() and commit(): only the holder of the output folder's run lock writes there.
  void hold(const RunLock& lock);
  // Shared run folder: record() appends to pipeline.lock.d/<owner>.journal instead of the run's journal.
  void set_owner(const std::string& owner);
  // Thread-safe; appends to the journal and syncs it before returning. Throws Error naming the journal
  // when the line cannot be written whole (a partial line is cut off again); the entry is then not kept.
  void record(const LockEntry& e);
  // Writes pipeline.lock durably (temp file, fsync, rename, fsync of the folder) and removes the journal (with
  // an exclusive run lock: every journal). Throws Error naming pipeline.lock when it cannot; the journal then
  // keeps every entry.
  void commit();
  // Shared run folder: under the merge flock, reads pipeline.lock and every journal again, writes the merge to
  // pipeline.lock and removes this owner's journal and those of `dead_owners` (they are folded in).
  void commit_shared(const std::set<std::string>& dead_owners);
  // Every entry loaded or recorded, ordered by id.
  std::vector<LockEntry> entries() const;
  // The name of the pipeline that last wrote the lock ("" for a lock from before it was recorded).
  std::string pipeline() const;
  void set_pipeline(std::string name);

  fs::path path() const { return dir_ / "pipeline.lock"; }
  fs::path journal_path() const { return dir_ / "pipeline.lock.journal"; }
  fs::path journal_dir() const { return dir_ / "pipeline.lock.d"; }

 private:
  void load_unlocked();
  void read_journal(const fs::path& file, std::size_t& torn);
  void merge(LockEntry e);
  void write_lock_unlocked();

  fs::path dir_;
  std::string owner_;
  mutable std::mutex mu_;
  std::map<std::string, LockEntry> entries_;
  std::string pipeline_;
  std::vector<std::string> warnings_;
  const RunLock* held_ = nullptr;
  int journal_ = -1;
};

std::string utc_now_iso();

}  // namespace slimpipe::core
