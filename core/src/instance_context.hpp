// What an instance sees while it runs: its logger and progress (through the run's console) and the
// Context the strategy is handed (seed, threads, scratch folder, task, outputs, cancellation).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "console.hpp"
#include "slimpipe/core/artifact_store.hpp"
#include "slimpipe/core/executor.hpp"
#include "slimpipe/strategy.hpp"

namespace slimpipe::core {

// An instance's log lines, handed to the console with the instance id.
class InstanceLogger final : public Logger {
 public:
  InstanceLogger(std::string id, Console& console) : id_(std::move(id)), console_(console) {}
  void log(LogLevel level, const std::string& message) override { console_.log(id_, level, message); }

 private:
  std::string id_;
  Console& console_;
};

// A strategy's progress, handed to the console, which throttles and renders it.
class ConsoleProgress final : public Progress {
 public:
  ConsoleProgress(std::string id, Console& console) : id_(std::move(id)), console_(console) {}
  void begin(const std::string& phase, std::int64_t total) override { console_.phase_begin(id_, phase, total); }
  void update(std::int64_t done, const std::string& status) override { console_.phase_update(id_, done, status); }
  void end() override { console_.phase_end(id_); }

 private:
  std::string id_;
  Console& console_;
};

class InstanceContext final : public Context {
 public:
  InstanceContext(const std::string& id, Logger& log, Console& console, std::uint64_t seed, const std::string& device,
                  int threads, fs::path scratch, Task* task, std::map<std::string, OutputArtifact>& outputs)
      : id_(id),
        log_(log),
        progress_(id, console),
        seed_(seed),
        device_(device),
        threads_(threads),
        scratch_(std::move(scratch)),
        task_(task),
        outputs_(outputs) {}

  const std::string& instance_id() const override { return id_; }
  Logger& log() override { return log_; }
  Progress& progress() override { return progress_; }
  bool cancelled() const override { return cancel_requested(); }
  std::uint64_t seed() const override { return seed_; }
  const std::string& device() const override { return device_; }
  int threads() const override { return threads_; }
  const fs::path& scratch_dir() const override {
    if (!scratch_made_) {  // made on first use: most strategies need none
      fs::create_directories(scratch_);
      scratch_made_ = true;
    }
    return scratch_;
  }
  bool has_task() const override { return task_ != nullptr; }
  Task& task() override {
    if (!task_) throw Error("instance " + id_ + " needs a task, but the pipeline has no [task] table");
    return *task_;
  }
  OutputArtifact& output(const std::string& name) override {
    auto it = outputs_.find(name);
    if (it == outputs_.end()) {
      std::string names;
      for (const auto& [n, o] : outputs_) names += (names.empty() ? "" : ", ") + ("'" + n + "'");
      throw Error("instance " + id_ + " asked for output '" + name + "', but declared only " + names);
    }
    return it->second;
  }

 private:
  std::string id_;
  Logger& log_;
  ConsoleProgress progress_;
  std::uint64_t seed_;
  std::string device_;
  int threads_;
  fs::path scratch_;
  mutable bool scratch_made_ = false;
  Task* task_;
  std::map<std::string, OutputArtifact>& outputs_;
};

}  // namespace slimpipe::core
