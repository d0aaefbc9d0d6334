// What a run prints while it runs, in one of three forms, and the run's log file (every line, always):
// - live (text on a terminal): event lines scroll above a block that is redrawn in place: a header (k of N
//   instances, elapsed, ETA) and one line per running instance (phase, %, rate, ETA), like cargo or ninja;
// - plain (text elsewhere: a pipe, a file, CI): one line per event; progress at most every few seconds per
//   instance, and nothing for a phase shorter than a second;
// - json: one JSON object per line, for machines (events, progress at most once a second, instance states).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "slimpipe/context.hpp"
#include "slimpipe/core/executor.hpp"

namespace slimpipe::core {

class Console {
 public:
  // `total`: the instances the run may execute (the header's N). `mode` picks the form; a live console
  // starts a thread that redraws the block four times a second.
  Console(std::ostream& out, LogLevel level, LogFormat format, bool live, const std::filesystem::path& file,
          std::size_t total, int max_parallel);
  ~Console();  // stops redrawing and erases the block, so later lines print below the last events
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;

  void log(const std::string& id, LogLevel level, const std::string& message);
  void instance_started(const std::string& id);
  void instance_finished(const std::string& id, Status status, double seconds);
  void phase_begin(const std::string& id, const std::string& phase, std::int64_t total);
  void phase_update(const std::string& id, std::int64_t done, const std::string& status);
  void phase_end(const std::string& id);
  // Stops the live block for good (before the run's closing lines).
  void close();

 private:
  using Clock = std::chrono::steady_clock;
  struct Running {
    Clock::time_point started;
    std::string phase, status;
    std::int64_t done = 0, total = 0;
    Clock::time_point phase_start, last_line;
  };
  void emit_locked(const std::string& id, LogLevel level, const std::string& message);
  void file_locked(const std::string& id, LogLevel level, const std::string& message);
  void json_locked(const Json& j);
  void redraw_locked();
  void erase_block_locked();
  std::string header_locked(Clock::time_point now) const;
  static std::string progress_text(const Running& r, Clock::time_point now, bool with_status);

  std::ostream& out_;
  LogLevel level_;
  LogFormat format_;
  bool live_;
  std::size_t total_;
  int max_parallel_;
  std::ofstream file_;
  mutable std::mutex mu_;
  std::map<std::string, Running> running_;  // by instance id, in id order
  std::size_t finished_ = 0;
  double finished_seconds_ = 0;  // of the instances that ran (for the ETA)
  std::size_t finished_ran_ = 0;
  Clock::time_point start_ = Clock::now();
  std::size_t block_lines_ = 0;  // lines of the live block now on screen
  bool stop_ = false;
  std::condition_variable wake_;
  std::thread painter_;
};

// "1m05s", "42s", "2h03m".
std::string short_duration(double seconds);

}  // namespace slimpipe::core
