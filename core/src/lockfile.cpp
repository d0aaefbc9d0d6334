// The lock file and its append-only journal.
#include "slimpipe/core/lockfile.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "slimpipe/core/artifact_store.hpp"
#include "slimpipe/core/run_lock.hpp"
#include "slimpipe/error.hpp"

namespace slimpipe::core {

std::string utc_now_iso() {
  std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Json LockEntry::to_json() const {
  return Json{{"id", id},           {"hash", hash},           {"status", status},   {"plugin", plugin},
              {"params", params},   {"inputs", input_hashes}, {"task", task_hash},  {"data", data},
              {"outputs", outputs}, {"error", error},         {"seconds", seconds}, {"finished", finished}};
}

LockEntry LockEntry::from_json(const Json& j) {
  LockEntry e;
  e.id = j.at("id").get<std::string>();
  e.hash = j.value("hash", std::string());
  e.status = j.value("status", std::string());
  e.plugin = j.value("plugin", Json::object());
  e.params = j.value("params", Json::object());
  e.input_hashes = j.value("inputs", std::vector<std::string>());
  e.task_hash = j.value("task", std::string());
  e.data = j.value("data", Json::object());
  e.outputs = j.value("outputs", Json::object());
  e.error = j.value("error", std::string());
  e.seconds = j.value("seconds", 0.0);
  e.finished = j.value("finished", std::string());
  return e;
}

Lockfile::Lockfile(fs::path output_dir) : dir_(std::move(output_dir)) {}

Lockfile::~Lockfile() {
  if (journal_ >= 0) ::close(journal_);
}

namespace {

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

namespace {

// The merge flock of a shared run folder: pipeline.lock.d/.lock, taken shared to read, exclusive to rewrite
// pipeline.lock and drop journals. No folder (a run folder no shared process wrote), nothing to take.
class MergeLock {
 public:
  MergeLock(const fs::path& journal_dir, bool exclusive, bool create) {
    std::error_code ec;
    if (create) fs::create_directories(journal_dir, ec);
    if (!fs::is_directory(journal_dir, ec)) return;
    fd_ = ::open((journal_dir / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) fd_ = ::open((journal_dir / ".lock").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ >= 0) ::flock(fd_, exclusive ? LOCK_EX : LOCK_SH);
  }
  ~MergeLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  MergeLock(const MergeLock&) = delete;
  MergeLock& operator=(const MergeLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace

void Lockfile::merge(LockEntry e) {
  auto it = entries_.find(e.id);
  // The entry finished last wins; at the same second a success beats a failure.
  if (it != entries_.end() && (e.finished < it->second.finished || (e.finished == it->second.finished &&
                                                                    it->second.status == "done" && e.status != "done")))
    return;
  entries_[e.id] = std::move(e);
}

void Lockfile::read_journal(const fs::path& file, std::size_t& torn) {
  const std::string text = read_text(file);
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t nl = text.find('\n', at);
    // A line without its newline was cut off by a kill or a full disk, even when it happens to parse.
    const std::string line = text.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
    const bool complete = nl != std::string::npos;
    at = complete ? nl + 1 : text.size();
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Json j = complete ? Json::parse(line, nullptr, false) : Json();
    if (!complete || j.is_discarded() || !j.is_object() || !j.contains("id") || !j["id"].is_string()) {
      ++torn;
      continue;
    }
    try {
      merge(LockEntry::from_json(j));
    } catch (const std::exception&) {
      ++torn;
    }
  }
}

void Lockfile::load() {
  MergeLock merge_lock(journal_dir(), false, false);
  std::lock_guard<std::mutex> lock(mu_);
  load_unlocked();
}

void Lockfile::load_unlocked() {
  entries_.clear();
  warnings_.clear();
  if (fs::exists(path())) {
    const std::string text = read_text(path());
    if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
      warnings_.push_back(path().string() +
                          " is empty (a write that did not complete): it records nothing, so every "
                          "instance the journal does not record is rebuilt");
    } else {
      try {
        Json j = Json::parse(text);
        if (j.contains("pipeline") && j["pipeline"].is_string()) pipeline_ = j["pipeline"].get<std::string>();
        for (const auto& e : j.at("instances")) {
          LockEntry le = LockEntry::from_json(e);
          entries_[le.id] = std::move(le);
        }
      } catch (const std::exception& e) {
        throw Error(path().string() + ": corrupt lock file (" + e.what() + "); delete it to rebuild everything");
      }
    }
  }
  std::vector<fs::path> journals;
  if (fs::exists(journal_path())) journals.push_back(journal_path());
  std::error_code ec;
  for (fs::directory_iterator it(journal_dir(), ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".journal") journals.push_back(it->path());
  for (const auto& file : journals) {
    std::size_t torn = 0;
    read_journal(file, torn);
    if (torn)
      warnings_.push_back(file.string() + ": ignored " + std::to_string(torn) +
                          " torn line(s) (a run stopped while writing); those instances rebuild");
  }
}

std::optional<LockEntry> Lockfile::find(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void Lockfile::hold(const RunLock& lock) {
  std::lock_guard<std::mutex> l(mu_);
  held_ = &lock;
}

void Lockfile::set_owner(const std::string& owner) {
  std::lock_guard<std::mutex> l(mu_);
  owner_ = owner;
}

void Lockfile::record(const LockEntry& e) {
  std::string line = e.to_json().dump() + "\n";
  std::lock_guard<std::mutex> lock(mu_);
  if (!held_)
    throw Error(journal_path().string() + ": not written: this process does not hold " +
                RunLock::path_for(dir_).string());
  const fs::path file = owner_.empty() ? journal_path() : journal_dir() / (owner_ + ".journal");
  if (journal_ < 0) {
    std::error_code ec;
    if (!owner_.empty()) fs::create_directories(journal_dir(), ec);
    journal_ = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (journal_ < 0) throw Error(file.string() + ": cannot open for appending: " + std::strerror(errno));
  }
  const off_t before = ::lseek(journal_, 0, SEEK_END);
  const char* p = line.data();
  std::size_t left = line.size();
  int err = 0;
  while (left > 0 && !err) {
    const ssize_t n = ::write(journal_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
    } else {
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  }
  if (!err && ::fdatasync(journal_) != 0 && errno != EINVAL) err = errno;
  if (err) {
    // Cut a partial line off again, so that the next entry starts on a line of its own.
    if (before >= 0) {
      const int cut = ::ftruncate(journal_, before);
      (void)cut;
    }
    throw Error(file.string() + ": cannot append: " + std::strerror(err));
  }
  entries_[e.id] = e;
}

void Lockfile::write_lock_unlocked() {
  Json j{{"version", 1}, {"instances", Json::array()}};
  if (!pipeline_.empty()) j["pipeline"] = pipeline_;
  for (const auto& [id, e] : entries_) j["instances"].push_back(e.to_json());
  fs::create_directories(dir_);
  write_file_durably(path(), j.dump(1) + "\n");
  if (journal_ >= 0) {
    ::close(journal_);
    journal_ = -1;
  }
}

void Lockfile::commit() {
  MergeLock merge_lock(journal_dir(), true, false);
  std::lock_guard<std::mutex> lock(mu_);
  if (!held_)
    throw Error(path().string() + ": not written: this process does not hold " + RunLock::path_for(dir_).string());
  if (held_->shared()) throw Error(path().string() + ": a shared run folder is written with commit_shared");
  write_lock_unlocked();
  std::error_code ec;
  fs::remove(journal_path(), ec);
  // The run lock is exclusive: no other process writes a journal now, and every one was read by load().
  fs::remove_all(journal_dir(), ec);
}

void Lockfile::commit_shared(const std::set<std::string>& dead_owners) {
  MergeLock merge_lock(journal_dir(), true, true);
  std::lock_guard<std::mutex> lock(mu_);
  if (!held_)
    throw Error(path().string() + ": not written: this process does not hold " + RunLock::path_for(dir_).string());
  const std::string pipeline = pipeline_;
  load_unlocked();
  if (!pipeline.empty()) pipeline_ = pipeline;
  write_lock_unlocked();
  std::error_code ec;
  if (!owner_.empty()) fs::remove(journal_dir() / (owner_ + ".journal"), ec);
  for (const auto& o : dead_owners) fs::remove(journal_dir() / (o + ".journal"), ec);
}

std::vector<LockEntry> Lockfile::entries() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<LockEntry> out;
  out.reserve(entries_.size());
  for (const auto& [id, e] : entries_) out.push_back(e);
  return out;
}

std::string Lockfile::pipeline() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pipeline_;
}

void Lockfile::set_pipeline(std::string name) {
  std::lock_guard<std::mutex> lock(mu_);
  pipeline_ = std::move(name);
}

}  // namespace slimpipe::core
