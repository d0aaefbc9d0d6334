// A run folder shared by many processes (`slimpipe worker`, `slimpipe run-instance`, Slurm jobs), on one host or
// on several hosts over a shared file system. Each process is an Owner with a token (host, pid and a random
// part) that names everything it writes: its claims, its temp folder <run>/.tmp/<token> and its journal. A claim
// <run>/.claims/<instance> is created with O_CREAT|O_EXCL and names the owner; its modification time is its
// heartbeat, refreshed by the owner's heartbeat thread. A claim (or an owner) whose heartbeat is older than the
// claim timeout is dead: a claim is taken over by renaming it away first (one rename wins), and a dead owner's
// temp folder and journal may be cleaned up by anyone. Clocks of the hosts must agree to well within the timeout.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace slimpipe::core {

namespace fs = std::filesystem;

struct ClaimInfo {
  std::string instance;
  std::string owner;  // the owner's token
  std::string host;
  long pid = 0;
  std::string started;       // ISO 8601, UTC: when the claim was taken
  double heartbeat_age = 0;  // seconds since the owner last refreshed it
  std::string who() const;   // "host:pid"
};

// The claim file of an instance (long ids are shortened with a hash of the whole id).
fs::path claim_path(const fs::path& run_dir, const std::string& instance_id);
// The claim on an instance, if any (a claim being written or removed right now reads as none).
std::optional<ClaimInfo> read_claim(const fs::path& run_dir, const std::string& instance_id);
// Every claim in the run folder, by instance id.
std::map<std::string, ClaimInfo> list_claims(const fs::path& run_dir);

// A claim timeout given as "60", "60s", "500ms" or "2m". Throws UsageError naming the option.
std::chrono::milliseconds parse_claim_timeout(const std::string& text, const std::string& option);

class Owner {
 public:
  // Registers <run>/.workers/<token> and starts the heartbeat thread (every timeout/4, between 0.2 s and 5 s).
  Owner(fs::path run_dir, std::chrono::milliseconds claim_timeout);
  // Stops the heartbeat, releases every claim still held and removes the owner's file and temp folder.
  ~Owner();
  Owner(const Owner&) = delete;
  Owner& operator=(const Owner&) = delete;

  const std::string& token() const { return token_; }
  fs::path tmp_root() const { return run_dir_ / ".tmp" / token_; }
  std::chrono::milliseconds timeout() const { return timeout_; }

  // Claims an instance: true when this owner holds it now (*holder, when given, then describes the dead claim it
  // took over, or is empty). False when a live owner holds it (described in *holder). Throws Error when the claims
  // folder cannot be written.
  bool claim(const std::string& id, ClaimInfo* holder = nullptr);
  // True while the claim file still names this owner (false once another owner took it over).
  bool holds(const std::string& id) const;
  // Removes the claim when it is still this owner's.
  void release(const std::string& id);

  // Owners whose heartbeat stopped (their file is older than the timeout, or gone while their temp folder
  // or journal stayed): their temp folders and owner files are removed here; their tokens are returned so that
  // their journals can be folded into pipeline.lock and removed (Lockfile::commit_shared).
  std::set<std::string> reap_dead_owners() const;

 private:
  void heartbeat_loop();
  bool take_over(const fs::path& file, const ClaimInfo& seen);

  fs::path run_dir_;
  std::chrono::milliseconds timeout_;
  std::string token_, host_;
  mutable std::mutex mu_;
  std::set<std::string> held_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread heartbeat_;
};

}  // namespace slimpipe::core
