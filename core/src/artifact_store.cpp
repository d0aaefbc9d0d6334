// Artifacts on disk (artifact_store.hpp): durable writes, manifests with per-file hashes, the cache's stat
// check, `slimpipe verify` and the cleanup of interrupted runs' temp folders.
#include "slimpipe/core/artifact_store.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <vector>

#include "slimpipe/core/lockfile.hpp"
#include "slimpipe/error.hpp"
#include "slimpipe/hash.hpp"

namespace slimpipe::core {

namespace {

std::string errno_text(int err) { return std::strerror(err); }

// Every byte written, or an Error naming `name`.
void write_all(int fd, const char* data, std::size_t n, const fs::path& name) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw Error(name.string() + ": cannot write: " + errno_text(errno));
    }
    data += w;
    n -= static_cast<std::size_t>(w);
  }
}

// Reads `path` once: its own SHA-1 (as sha1sum prints it) and the same bytes into `whole`. fsyncs it.
std::string hash_and_sync(const fs::path& path, Hasher& whole) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path.string() + ": cannot open for hashing: " + errno_text(errno));
  Hasher own;
  std::vector<char> buf(1 << 20);
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw Error(path.string() + ": read error while hashing: " + errno_text(err));
    }
    if (n == 0) break;
    own.update(buf.data(), static_cast<std::size_t>(n));
    whole.update(buf.data(), static_cast<std::size_t>(n));
  }
  const bool synced = ::fsync(fd) == 0 || errno == EINVAL;  // EINVAL: a file system without fsync
  const int err = errno;
  ::close(fd);
  if (!synced) throw Error(path.string() + ": cannot write: " + errno_text(err));
  return own.hex();
}

bool process_alive(long pid) { return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM); }

std::string relative_text(const fs::path& p, const fs::path& base) {
  std::error_code ec;
  fs::path r = fs::relative(p, base, ec);
  return ec || r.empty() ? p.string() : r.generic_string();
}

}  // namespace

void sync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw Error(dir.string() + ": cannot open folder to sync it: " + errno_text(errno));
  const bool ok = ::fsync(fd) == 0 || errno == EINVAL;
  const int err = errno;
  ::close(fd);
  if (!ok) throw Error(dir.string() + ": cannot sync folder: " + errno_text(err));
}

void write_file_durably(const fs::path& path, const std::string& content) {
  const fs::path tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(path.string() + ": cannot write: " + errno_text(errno));
  try {
    write_all(fd, content.data(), content.size(), path);
    if (::fsync(fd) != 0 && errno != EINVAL) throw Error(path.string() + ": cannot write: " + errno_text(errno));
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw Error(path.string() + ": cannot write: " + errno_text(err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw Error(path.string() + ": cannot rename " + tmp.filename().string() + " into place: " + errno_text(err));
  }
  sync_dir(path.parent_path().empty() ? fs::path(".") : path.parent_path());
}

FilesDescription describe_files(const fs::path& dir, const Json& manifest) {
  std::vector<fs::path> files, dirs{dir};
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_directory())
      dirs.push_back(e.path());
    else if (e.is_regular_file() && e.path() != dir / "manifest.json")
      files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  FilesDescription d;
  Hasher whole;  // the artifact's hash, as before files carried their own: name, bytes, name, bytes, ...
  for (const auto& f : files) {
    const std::string rel = fs::relative(f, dir).generic_string();
    whole.update(rel);
    const std::string sha1 = hash_and_sync(f, whole);
    const auto size = fs::file_size(f);
    d.size_bytes += size;
    d.files.push_back({{"path", rel}, {"size", size}, {"sha1", sha1}});
  }
  whole.update(manifest.value("kind", std::string()));
  whole.update(manifest.value("metrics", Json::object()).dump());
  d.hash = whole.hex();
  for (const auto& sub : dirs) sync_dir(sub);
  return d;
}

Json finish_manifest(const fs::path& dir, Json m) {
  if (!m.contains("kind")) m["kind"] = "artifact";
  if (!m.contains("metrics")) m["metrics"] = Json::object();
  FilesDescription files = describe_files(dir, m);
  m["files"] = std::move(files.files);
  m["size_bytes"] = files.size_bytes;
  m["created"] = utc_now_iso();
  m["hash"] = files.hash;
  write_file_durably(dir / "manifest.json", m.dump(2) + "\n");
  return m;
}

void move_into_place(const fs::path& tmp, const fs::path& dest, const fs::path& trash) {
  if (fs::exists(dest)) {
    fs::rename(dest, trash);
    std::error_code ec;
    fs::remove_all(trash, ec);
  }
  fs::create_directories(dest.parent_path());
  fs::rename(tmp, dest);  // named outputs are subfolders of the temp folder, so this moves all
  sync_dir(dest.parent_path());
}

std::string check_stored_output(const fs::path& dir, const fs::path& run_dir, const std::string& expected_hash) {
  const std::string where = relative_text(dir, run_dir);
  std::string why;
  const auto a = Artifact::try_load(dir, &why);
  if (!a) return "output " + where + " is missing" + (why == "manifest.json is missing" ? "" : " (" + why + ")");
  if (!expected_hash.empty() && a->hash() != expected_hash)
    return "damaged: " + where + "/manifest.json does not match pipeline.lock; rebuild";
  const auto problems = a->verify_files(false);
  if (!problems.empty()) return "damaged: " + where + "/" + problems.front() + "; rebuild";
  return "";
}

std::vector<std::string> remove_temp_leftovers(const fs::path& tmp_root) {
  std::vector<std::string> kept;
  std::error_code ec;
  if (!fs::is_directory(tmp_root, ec)) return kept;
  const long self = static_cast<long>(::getpid());
  for (fs::directory_iterator it(tmp_root, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const bool numeric = !name.empty() && name.find_first_not_of("0123456789") == std::string::npos && name.size() < 10;
    const long pid = numeric ? std::stol(name) : 0;
    if (numeric && pid != self && process_alive(pid)) {
      kept.push_back(it->path().string());  // a live process's folder: never ours to remove
      continue;
    }
    std::error_code rm;
    fs::remove_all(it->path(), rm);
    if (rm) kept.push_back(it->path().string());
  }
  return kept;
}

VerifyResult verify_run_folder(const fs::path& run_dir, bool quick) {
  if (!fs::is_directory(run_dir)) throw Error(run_dir.string() + ": no such folder");
  VerifyResult r;
  std::map<fs::path, std::string> expected;  // artifact folder -> the hash pipeline.lock records ("" if none)
  Lockfile lock(run_dir);
  try {
    lock.load();
    r.warnings = lock.warnings();
    for (const auto& e : lock.entries()) {
      if (e.status != "done" || !e.outputs.is_object()) continue;
      for (const auto& [name, out] : e.outputs.items())
        if (out.is_object() && out.contains("path") && out["path"].is_string())
          expected[(run_dir / out["path"].get<std::string>()).lexically_normal()] = out.value("hash", std::string());
    }
  } catch (const std::exception& e) {
    r.warnings.push_back(e.what());
  }
  std::set<fs::path> dirs;
  for (const auto& [d, h] : expected) dirs.insert(d);
  std::error_code ec;
  for (fs::recursive_directory_iterator it(run_dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_directory()) continue;
    const std::string name = it->path().filename().string();
    if (it.depth() == 0 && (name == ".tmp" || name == "logs")) {
      it.disable_recursion_pending();
      continue;
    }
    if (fs::exists(it->path() / "manifest.json")) {
      dirs.insert(it->path().lexically_normal());
      it.disable_recursion_pending();  // an artifact's own subfolders are its files, not artifacts
    }
  }
  for (const auto& dir : dirs) {
    ++r.artifacts;
    const std::string where = relative_text(dir, run_dir);
    std::string why;
    const auto a = Artifact::try_load(dir, &why);
    if (!a) {
      r.damaged.push_back(where + ": " + why);
      continue;
    }
    std::vector<std::string> problems = a->verify_files(!quick);
    auto it = expected.find(dir);
    if (it != expected.end() && !it->second.empty() && it->second != a->hash())
      problems.insert(problems.begin(), "manifest.json does not match pipeline.lock (hash " + a->hash() + ")");
    if (problems.empty()) continue;
    std::string line = a->id() + " (" + where + "): ";
    for (std::size_t i = 0; i < problems.size(); ++i) line += (i ? "; " : "") + problems[i];
    r.damaged.push_back(line);
  }
  return r;
}

}  // namespace slimpipe::core
