// The run's console: live block on a terminal, throttled plain lines elsewhere, JSON lines for machines,
// and the log file that gets every line whatever is shown (console.hpp).
#include "console.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "slimpipe/core/lockfile.hpp"

namespace slimpipe::core {

namespace {

constexpr auto kPlainProgressEvery = std::chrono::seconds(5);
constexpr auto kJsonProgressEvery = std::chrono::seconds(1);
constexpr auto kRedrawEvery = std::chrono::milliseconds(250);
constexpr double kQuietPhaseSeconds = 1.0;  // phases shorter than this print nothing off the live block

const char* level_name(LogLevel level) {
  static const char* names[] = {"debug", "info", "warn", "error"};
  return names[static_cast<int>(level)];
}

double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::size_t terminal_width() {
  winsize w{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_col > 20) return w.ws_col;
  return 100;
}

// Cut to `width` display columns (UTF-8 aware: continuation bytes take no column), so no line wraps and the
// block's line count stays what was drawn.
std::string fit(const std::string& s, std::size_t width) {
  std::size_t cols = 0, i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    if (++cols > width) break;
  }
  return s.substr(0, i);
}

}  // namespace

std::string short_duration(double seconds) {
  if (!(seconds >= 0)) seconds = 0;
  const auto s = static_cast<long long>(seconds + 0.5);
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%llds", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
  return buf;
}

Console::Console(std::ostream& out, LogLevel level, LogFormat format, bool live, const std::filesystem::path& file,
                 std::size_t total, int max_parallel)
    : out_(out),
      level_(level),
      format_(format),
      live_(live && format == LogFormat::Text && level <= LogLevel::Info),
      total_(total),
      max_parallel_(std::max(1, max_parallel)) {
  std::error_code ec;  // no log folder (a full disk): the lines still reach the terminal
  std::filesystem::create_directories(file.parent_path(), ec);
  if (!ec) file_.open(file, std::ios::app);
  if (live_) {
    painter_ = std::thread([this] {
      std::unique_lock<std::mutex> lock(mu_);
      while (!stop_) {
        redraw_locked();
        wake_.wait_for(lock, kRedrawEvery);
      }
    });
  }
}

Console::~Console() { close(); }

void Console::close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
    erase_block_locked();
    out_.flush();
  }
  wake_.notify_all();
  if (painter_.joinable()) painter_.join();
  std::lock_guard<std::mutex> lock(mu_);
  file_.flush();
}

void Console::file_locked(const std::string& id, LogLevel level, const std::string& message) {
  if (file_) file_ << utc_now_iso() << " " << level_name(level) << " [" << id << "] " << message << "\n";
}

void Console::json_locked(const Json& j) {
  Json line = j;
  line["time"] = utc_now_iso();
  out_ << line.dump(-1, ' ', false, Json::error_handler_t::replace) << "\n";
  out_.flush();
}

void Console::emit_locked(const std::string& id, LogLevel level, const std::string& message) {
  file_locked(id, level, message);
  if (level < level_) return;
  if (format_ == LogFormat::Json) {
    json_locked({{"event", "log"}, {"level", level_name(level)}, {"instance", id}, {"message", message}});
    return;
  }
  erase_block_locked();  // live: the line goes above the block, drawn again below it
  out_ << "[" << id << "] " << (level >= LogLevel::Warn ? std::string(level_name(level)) + ": " : "") << message
       << "\n";
  if (live_ && !stop_) redraw_locked();
  out_.flush();
}

void Console::log(const std::string& id, LogLevel level, const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  emit_locked(id, level, message);
}

void Console::instance_started(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  Running& r = running_[id];
  r.started = r.phase_start = r.last_line = Clock::now();
  if (format_ == LogFormat::Json && level_ <= LogLevel::Info)
    json_locked({{"event", "instance"}, {"instance", id}, {"status", "running"}});
}

void Console::instance_finished(const std::string& id, Status status, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  running_.erase(id);
  ++finished_;
  if (status == Status::Done) {
    ++finished_ran_;
    finished_seconds_ += seconds;
  }
  if (format_ == LogFormat::Json && level_ <= LogLevel::Info)
    json_locked({{"event", "instance"},
                 {"instance", id},
                 {"status", to_string(status)},
                 {"seconds", seconds},
                 {"finished", finished_},
                 {"total", total_}});
}

void Console::phase_begin(const std::string& id, const std::string& phase, std::int64_t total) {
  std::lock_guard<std::mutex> lock(mu_);
  Running& r = running_[id];
  r.phase = phase;
  r.total = total;
  r.done = 0;
  r.status.clear();
  r.phase_start = r.last_line = Clock::now();
  file_locked(id, LogLevel::Debug, phase + ": started (" + std::to_string(total) + " steps)");
  if (format_ == LogFormat::Json && level_ <= LogLevel::Info)
    json_locked({{"event", "phase"}, {"instance", id}, {"phase", phase}, {"state", "begin"}, {"total", total}});
}

std::string Console::progress_text(const Running& r, Clock::time_point now, bool with_status) {
  const double el = seconds_between(r.phase_start, now);
  const double rate = el > 0 ? static_cast<double>(r.done) / el : 0.0;
  char buf[200];
  std::snprintf(buf, sizeof buf, "%s: %lld/%lld (%.0f%%)", r.phase.c_str(), static_cast<long long>(r.done),
                static_cast<long long>(r.total),
                r.total > 0 ? 100.0 * static_cast<double>(r.done) / static_cast<double>(r.total) : 0.0);
  std::string s = buf;
  if (rate > 0) {
    std::snprintf(buf, sizeof buf, rate >= 10 ? " %.0f it/s" : " %.2f it/s", rate);
    s += buf;
    if (r.total > r.done) s += ", ETA " + short_duration(static_cast<double>(r.total - r.done) / rate);
  }
  if (with_status && !r.status.empty()) s += " " + r.status;
  return s;
}

void Console::phase_update(const std::string& id, std::int64_t done, const std::string& status) {
  std::lock_guard<std::mutex> lock(mu_);
  Running& r = running_[id];
  r.done = done;
  if (!status.empty()) r.status = status;
  const auto now = Clock::now();
  if (live_) return;  // the painter shows it
  const auto every = format_ == LogFormat::Json ? std::chrono::duration_cast<Clock::duration>(kJsonProgressEvery)
                                                : std::chrono::duration_cast<Clock::duration>(kPlainProgressEvery);
  if (now - r.last_line < every) return;
  r.last_line = now;
  const std::string text = progress_text(r, now, true);
  if (format_ == LogFormat::Json) {
    file_locked(id, LogLevel::Info, text);
    if (level_ <= LogLevel::Info) {
      const double el = seconds_between(r.phase_start, now);
      json_locked({{"event", "progress"},
                   {"instance", id},
                   {"phase", r.phase},
                   {"done", r.done},
                   {"total", r.total},
                   {"rate", el > 0 ? static_cast<double>(r.done) / el : 0.0},
                   {"status", r.status}});
    }
    return;
  }
  emit_locked(id, LogLevel::Info, text);
}

void Console::phase_end(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = running_.find(id);
  if (it == running_.end()) return;
  Running& r = it->second;
  const double seconds = seconds_between(r.phase_start, Clock::now());
  std::string line = r.phase + ": done in " + short_duration(seconds);
  if (seconds < 10) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f s", seconds);
    line = r.phase + ": done in " + buf;
  }
  if (!r.status.empty()) line += " (" + r.status + ")";
  if (format_ == LogFormat::Json) {
    file_locked(id, LogLevel::Debug, line);
    if (level_ <= LogLevel::Info)
      json_locked({{"event", "phase"}, {"instance", id}, {"phase", r.phase}, {"state", "end"}, {"seconds", seconds}});
  } else {
    // A phase under a second is noise ("weights: 14/14", "done in 0.0004 s"): the file keeps it.
    emit_locked(id, seconds < kQuietPhaseSeconds ? LogLevel::Debug : LogLevel::Info, line);
  }
  r.phase.clear();
  r.total = r.done = 0;
  r.status.clear();
}

std::string Console::header_locked(Clock::time_point now) const {
  const double elapsed = seconds_between(start_, now);
  std::string h = "slimpipe: " + std::to_string(finished_) + "/" + std::to_string(total_) + " instances, " +
                  std::to_string(running_.size()) + " running, " + short_duration(elapsed) + " elapsed";
  // ETA: the slowest running instance's own estimate, then the instances not started yet at the mean
  // duration of those that ran, max_parallel at a time. Shown once something has finished or estimates.
  double running_eta = 0;
  bool known = false;
  for (const auto& [id, r] : running_) {
    const double el = seconds_between(r.phase_start, now);
    if (r.total > 0 && r.done > 0 && el > 0) {
      running_eta = std::max(running_eta, static_cast<double>(r.total - r.done) * el / static_cast<double>(r.done));
      known = true;
    }
  }
  const std::size_t waiting = total_ > finished_ + running_.size() ? total_ - finished_ - running_.size() : 0;
  if (waiting > 0 && finished_ran_ > 0) {
    running_eta += finished_seconds_ / static_cast<double>(finished_ran_) * static_cast<double>(waiting) /
                   static_cast<double>(max_parallel_);
    known = true;
  } else if (waiting > 0) {
    known = false;  // instances still to start, and no duration to go by yet
  }
  if (known) h += ", ETA ~" + short_duration(running_eta);
  return h;
}

void Console::erase_block_locked() {
  if (!live_ || block_lines_ == 0) return;
  out_ << "\x1b[" << block_lines_ << "F\x1b[J";  // to the block's first line, clear to the end of the screen
  block_lines_ = 0;
}

void Console::redraw_locked() {
  const auto now = Clock::now();
  const std::size_t width = terminal_width() - 1;
  std::vector<std::string> lines{header_locked(now)};
  for (const auto& [id, r] : running_) {
    std::string l = "  " + id;
    l += r.phase.empty() ? std::string("  ") + short_duration(seconds_between(r.started, now))
                         : "  " + progress_text(r, now, true);
    lines.push_back(l);
  }
  erase_block_locked();
  for (const auto& l : lines) out_ << fit(l, width) << "\n";
  block_lines_ = lines.size();
  out_.flush();
}

}  // namespace slimpipe::core
