// The run folder's writer lock (run_lock.hpp): flock(LOCK_EX | LOCK_NB) on <output_dir>/.run.lock.
#include "slimpipe/core/run_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <thread>

#include "slimpipe/core/lockfile.hpp"
#include "slimpipe/core/pipeline_spec.hpp"

namespace slimpipe::core {

namespace {

std::string read_holder(int fd) {
  char buf[512];
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return "";
  std::string s(buf, static_cast<std::size_t>(n));
  while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.pop_back();
  return s;
}

// "pid=1234 host=h started=..." -> the value of `key`, "" when absent.
std::string field(const std::string& line, const std::string& key) {
  std::istringstream in(line);
  std::string token;
  while (in >> token)
    if (token.rfind(key + "=", 0) == 0) return token.substr(key.size() + 1);
  return "";
}

std::string in_use_message(const fs::path& dir, int fd) {
  // The holder writes its line right after taking the lock: give it a moment if it has not yet.
  std::string holder = read_holder(fd);
  for (int i = 0; i < 20 && field(holder, "pid").empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    holder = read_holder(fd);
  }
  const std::string pid = field(holder, "pid"), host = field(holder, "host"), started = field(holder, "started");
  std::string who = pid.empty() ? "another process" : "process " + pid;
  if (!host.empty()) who += " on host " + host;
  if (!started.empty()) who += " (started " + started + ")";
  return dir.string() + " is in use by " + who + "; wait for it or stop it";
}

// True when the lock is held in shared mode only (a shared lock can be taken too); the probe is dropped again.
bool held_shared(int fd) {
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0) return false;
  ::flock(fd, LOCK_UN);
  return true;
}

}  // namespace

RunLock::RunLock(const fs::path& output_dir, LockMode mode) : path_(path_for(output_dir)), mode_(mode) {
  std::error_code ec;
  fs::create_directories(output_dir, ec);
  if (ec) throw Error(output_dir.string() + ": cannot create the output folder: " + ec.message());
  // O_CLOEXEC: a child process (a tool a plugin starts) must not keep the folder locked after we exit.
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(path_.string() + ": cannot open the run lock: " + std::strerror(errno));
  if (::flock(fd_, (mode == LockMode::Shared ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0) {
    const int err = errno;
    if (err == ENOLCK || err == EOPNOTSUPP || err == ENOSYS || err == EINVAL) {
      // A file system without locks (some network and FUSE ones): run, but say what is not guarded.
      warning_ = path_.string() + ": cannot lock (" + std::strerror(err) +
                 "): a second run on this folder will not be stopped";
      return;
    }
    std::string msg = err != EWOULDBLOCK ? path_.string() + ": cannot lock: " + std::strerror(err)
                      : mode == LockMode::Exclusive && held_shared(fd_)
                          ? output_dir.string() +
                                " is in use by processes sharing it (slimpipe worker, run-instance or a Slurm run; "
                                "slimpipe status shows them); wait for them or stop them"
                          : in_use_message(output_dir, fd_);
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK) throw FolderInUse(msg);
    throw Error(msg);
  }
  if (mode == LockMode::Shared) return;  // the holders of a shared folder are its claims and owners (claims.hpp)
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "?");
  const std::string line = "pid=" + std::to_string(::getpid()) + " host=" + host + " started=" + utc_now_iso() + "\n";
  // Who holds the folder is information for the next run, not a condition of holding it: a full disk
  // leaves the line out but keeps the lock.
  if (::ftruncate(fd_, 0) == 0) {
    const ssize_t n = ::pwrite(fd_, line.data(), line.size(), 0);
    (void)n;
  }
}

namespace {

// The string a `--set KEY=VALUE` gives KEY, parsed as load_pipeline parses it: a TOML value when it is one.
std::optional<std::string> set_string(const std::string& value) {
  try {
    const toml::table t = toml::parse("v = " + value);
    if (const auto s = t["v"].value<std::string>()) return *s;
    return std::nullopt;
  } catch (const toml::parse_error&) {
    return value;
  }
}

}  // namespace

std::unique_ptr<RunLock> RunLock::before_loading(const fs::path& file, const std::vector<std::string>& sets) {
  std::optional<std::string> dir, name;
  try {
    if (!fs::is_regular_file(file)) return nullptr;
    std::ifstream in(file, std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!pipeline_keys_within_limits(text)) return nullptr;
    const toml::table root = toml::parse(text, file.string());
    dir = root["pipeline"]["output_dir"].value<std::string>();
    name = root["pipeline"]["name"].value<std::string>();
  } catch (const std::exception&) {
    return nullptr;  // load_pipeline reports it
  }
  for (const auto& s : sets) {
    const std::string key = s.substr(0, s.find('='));
    if (key == "pipeline.output_dir")
      dir = set_string(s.substr(key.size() + 1));
    else if (key == "pipeline.name")
      name = set_string(s.substr(key.size() + 1));
    else if (key == "pipeline")
      return nullptr;
  }
  std::string d = dir ? *dir : "runs/" + (name ? *name : file.stem().string());
  if (d.empty() || d.find('$') != std::string::npos) return nullptr;
  fs::path out(d);
  if (out.is_relative()) out = (file.has_parent_path() ? file.parent_path() : fs::path(".")) / out;
  out = out.lexically_normal();
  if (!fs::is_directory(out)) return nullptr;
  return std::make_unique<RunLock>(out);
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

}  // namespace slimpipe::core
