// pipeline.lock: what each instance was built from (plugin, parameters, input hashes) and what it
// produced. Finished instances are appended to pipeline.lock.journal at once (every write checked, then
// fdatasync), so a killed run loses nothing; the journal is folded into pipeline.lock (written durably)
// when a run ends. Only the run holding the folder's RunLock writes either file.
#pragma once

#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
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
  // Thread-safe; appends to the journal and syncs it before returning. Throws Error naming the journal
  // when the line cannot be written whole (a partial line is cut off again); the entry is then not kept.
  void record(const LockEntry& e);
  // Writes pipeline.lock durably (temp file, fsync, rename, fsync of the folder) and removes the journal.
  // Throws Error naming pipeline.lock when it cannot; the journal then keeps every entry.
  void commit();
  // Every entry loaded or recorded, ordered by id.
  std::vector<LockEntry> entries() const;
  // The name of the pipeline that last wrote the lock ("" for a lock from before it was recorded).
  std::string pipeline() const;
  void set_pipeline(std::string name);

  fs::path path() const { return dir_ / "pipeline.lock"; }
  fs::path journal_path() const { return dir_ / "pipeline.lock.journal"; }

 private:
  fs::path dir_;
  mutable std::mutex mu_;
  std::map<std::string, LockEntry> entries_;
  std::string pipeline_;
  std::vector<std::string> warnings_;
  const RunLock* held_ = nullptr;
  int journal_ = -1;
};

std::string utc_now_iso();

}  // namespace slimpipe::core
