// pipeline.lock: what each instance was built from (plugin, parameters, input hashes) and what it
// produced. Finished instances are appended to pipeline.lock.journal at once, so a killed run
// loses nothing; the journal is folded into pipeline.lock when a run ends.
#pragma once

#include <cstdio>
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
  std::string hash;    // cache key: plugin, parameters, inputs, task
  std::string status;  // "done" or "failed"
  Json plugin = Json::object();  // {name, version, fingerprint}
  Json params = Json::object();
  std::vector<std::string> input_hashes;
  std::string task_hash;
  Json outputs = Json::object();  // name -> {path (relative to output_dir), hash}
  std::string error;
  double seconds = 0;
  std::string finished;  // ISO 8601, UTC

  Json to_json() const;
  static LockEntry from_json(const Json& j);
};

class Lockfile {
 public:
  explicit Lockfile(fs::path output_dir);
  ~Lockfile();

  // Reads pipeline.lock and replays the journal left by an interrupted run. A corrupt lock is an
  // Error naming the file; a torn last journal line (a kill mid-write) is ignored.
  void load();
  std::optional<LockEntry> find(const std::string& id) const;
  // Thread-safe; appends to the journal and flushes it before returning.
  void record(const LockEntry& e);
  // Writes pipeline.lock atomically (temp file + rename) and removes the journal.
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
  std::FILE* journal_ = nullptr;
};

std::string utc_now_iso();

}  // namespace slimpipe::core
