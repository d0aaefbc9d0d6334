// The lock file and its append-only journal.
#include "slimpipe/core/lockfile.hpp"

#include <chrono>
#include <ctime>
#include <fstream>

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
  return Json{{"id", id},           {"hash", hash},       {"status", status},     {"plugin", plugin},
              {"params", params},   {"inputs", input_hashes}, {"task", task_hash}, {"outputs", outputs},
              {"error", error},     {"seconds", seconds}, {"finished", finished}};
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
  e.outputs = j.value("outputs", Json::object());
  e.error = j.value("error", std::string());
  e.seconds = j.value("seconds", 0.0);
  e.finished = j.value("finished", std::string());
  return e;
}

Lockfile::Lockfile(fs::path output_dir) : dir_(std::move(output_dir)) {}

Lockfile::~Lockfile() {
  if (journal_) std::fclose(journal_);
}

void Lockfile::load() {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.clear();
  if (fs::exists(path())) {
    std::ifstream in(path());
    Json j;
    try {
      j = Json::parse(in);
      if (j.contains("pipeline") && j["pipeline"].is_string()) pipeline_ = j["pipeline"].get<std::string>();
      for (const auto& e : j.at("instances")) {
        LockEntry le = LockEntry::from_json(e);
        entries_[le.id] = std::move(le);
      }
    } catch (const std::exception& e) {
      throw Error(path().string() + ": corrupt lock file (" + e.what() + "); delete it to rebuild everything");
    }
  }
  if (fs::exists(journal_path())) {
    std::ifstream in(journal_path());
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      try {
        LockEntry le = LockEntry::from_json(Json::parse(line));
        entries_[le.id] = std::move(le);
      } catch (const std::exception&) {
        // A run killed while writing leaves a torn last line; that instance simply reruns.
      }
    }
  }
}

std::optional<LockEntry> Lockfile::find(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void Lockfile::record(const LockEntry& e) {
  std::string line = e.to_json().dump() + "\n";
  std::lock_guard<std::mutex> lock(mu_);
  if (!journal_) {
    fs::create_directories(dir_);
    journal_ = std::fopen(journal_path().c_str(), "a");
    if (!journal_) throw Error(journal_path().string() + ": cannot open for appending");
  }
  std::fwrite(line.data(), 1, line.size(), journal_);
  std::fflush(journal_);  // into the kernel: survives a kill of this process
  entries_[e.id] = e;
}

void Lockfile::commit() {
  std::lock_guard<std::mutex> lock(mu_);
  Json j{{"version", 1}, {"instances", Json::array()}};
  if (!pipeline_.empty()) j["pipeline"] = pipeline_;
  for (const auto& [id, e] : entries_) j["instances"].push_back(e.to_json());
  fs::create_directories(dir_);
  fs::path tmp = dir_ / "pipeline.lock.tmp";
  {
    std::ofstream out(tmp);
    out << j.dump(1) << "\n";
    if (!out) throw Error(tmp.string() + ": cannot write lock file");
  }
  fs::rename(tmp, path());
  if (journal_) {
    std::fclose(journal_);
    journal_ = nullptr;
  }
  std::error_code ec;
  fs::remove(journal_path(), ec);
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
