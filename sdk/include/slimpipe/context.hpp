// What the host hands a strategy while it runs: logging, progress, cancellation, seed, device,
// thread budget, scratch space, the pipeline's task and the outputs to fill.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "slimpipe/artifact.hpp"
#include "slimpipe/export.hpp"

namespace slimpipe {

class Task;

enum class LogLevel { Debug = 0, Info = 1, Warn = 2, Error = 3 };

class SLIMPIPE_API Logger {
 public:
  virtual ~Logger();
  virtual void log(LogLevel level, const std::string& message) = 0;

  void debug(const std::string& m) { log(LogLevel::Debug, m); }
  void info(const std::string& m) { log(LogLevel::Info, m); }
  void warn(const std::string& m) { log(LogLevel::Warn, m); }
  void error(const std::string& m) { log(LogLevel::Error, m); }
};

// Progress of one phase of work ("train", "calibrate"): done out of total, plus a short status
// such as "loss=0.31 lr=2e-5". The host throttles and renders it.
class SLIMPIPE_API Progress {
 public:
  virtual ~Progress();
  virtual void begin(const std::string& phase, std::int64_t total) = 0;
  virtual void update(std::int64_t done, const std::string& status = "") = 0;
  virtual void end() = 0;
};

class SLIMPIPE_API Context {
 public:
  virtual ~Context();

  virtual const std::string& instance_id() const = 0;
  virtual Logger& log() = 0;
  virtual Progress& progress() = 0;

  // Set once the user interrupts the run. Long loops call throw_if_cancelled() between steps.
  virtual bool cancelled() const = 0;
  void throw_if_cancelled() const;

  virtual std::uint64_t seed() const = 0;
  virtual const std::string& device() const = 0;  // "cpu", "cuda", "cuda:1"
  // Intra-op threads this instance may use; instances in flight x threads <= cores.
  virtual int threads() const = 0;
  // A private directory, removed after the instance finishes.
  virtual const fs::path& scratch_dir() const = 0;

  // The pipeline's [task], created and configured by the host. has_task() is false when the
  // pipeline has no [task] table; task() then throws Error.
  virtual bool has_task() const = 0;
  virtual Task& task() = 0;

  // The output named `name`, which must be one of Strategy::outputs(params). "" is the default.
  virtual OutputArtifact& output(const std::string& name = "") = 0;
};

}  // namespace slimpipe
