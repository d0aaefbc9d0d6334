// One writer per run folder: `slimpipe run` holds an exclusive flock on <output_dir>/.run.lock for as long as
// it writes there. The processes of a shared run folder (`slimpipe worker`, `run-instance`, `run --executor
// slurm`; claims.hpp) hold it shared: any number of them at once, and never together with a plain run. The file names
// the holder (pid, host, start time) so that a second run can say who holds the folder; the kernel drops the lock when
// the holder exits, however it exits (kill -9 included).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "slimpipe/error.hpp"

namespace slimpipe::core {

namespace fs = std::filesystem;

// The folder is held by another process: "runs/x is in use by process 1234 on host h (started ...); wait for
// it or stop it".
class FolderInUse : public Error {
 public:
  using Error::Error;
};

enum class LockMode { Exclusive, Shared };

class RunLock {
 public:
  // Takes the lock without waiting, creating output_dir when needed. Throws FolderInUse when another
  // process (or another RunLock of this process) holds it in the other mode (or, for Exclusive, at all), Error
  // when the lock file cannot be opened.
  explicit RunLock(const fs::path& output_dir, LockMode mode = LockMode::Exclusive);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  const fs::path& path() const { return path_; }
  bool shared() const { return mode_ == LockMode::Shared; }
  // Not empty when the file system cannot lock files: the run goes on unguarded, and says so.
  const std::string& warning() const { return warning_; }
  static fs::path path_for(const fs::path& output_dir) { return output_dir / ".run.lock"; }

  // The lock of the output folder a pipeline file names, taken before the plugins are loaded (seconds with
  // LibTorch), so that a second run fails at once. Reads only [pipeline] output_dir and name and the
  // --set overrides of either; nullptr when that is not enough to be sure of the folder (environment
  // variables, a file that does not parse) or when the folder does not exist yet. The Executor takes the
  // lock anyway; this only takes it sooner. Throws FolderInUse.
  static std::unique_ptr<RunLock> before_loading(const fs::path& pipeline_file, const std::vector<std::string>& sets);

 private:
  fs::path path_;
  LockMode mode_;
  std::string warning_;
  int fd_ = -1;
};

}  // namespace slimpipe::core
