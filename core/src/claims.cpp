// Claims and owners of a shared run folder (claims.hpp).
#include "slimpipe/core/claims.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "slimpipe/core/lockfile.hpp"
#include "slimpipe/error.hpp"
#include "slimpipe/hash.hpp"
#include "slimpipe/params.hpp"

namespace slimpipe::core {

namespace {

std::string this_host() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) return "unknown-host";
  return host;
}

std::string random_hex(int digits) {
  std::random_device rd;
  std::mt19937_64 rng((static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^ static_cast<std::uint64_t>(::getpid()));
  std::ostringstream s;
  s << std::hex << rng();
  return s.str().substr(0, static_cast<std::size_t>(digits));
}

// Seconds since `p` was last modified; nullopt when it does not exist.
std::optional<double> age_of(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return std::nullopt;
  struct timespec now {};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<double>(now.tv_sec - st.st_mtim.tv_sec) + (now.tv_nsec - st.st_mtim.tv_nsec) * 1e-9;
}

std::optional<ClaimInfo> parse_claim(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  const Json j = Json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  ClaimInfo c;
  c.instance = j.value("instance", std::string());
  c.owner = j.value("owner", std::string());
  c.host = j.value("host", std::string());
  c.pid = j.value("pid", 0L);
  c.started = j.value("started", std::string());
  const auto age = age_of(file);
  if (!age) return std::nullopt;
  c.heartbeat_age = *age;
  return c;
}

void touch(const fs::path& p) { ::utimensat(AT_FDCWD, p.c_str(), nullptr, 0); }

double seconds(std::chrono::milliseconds ms) { return static_cast<double>(ms.count()) / 1000.0; }

}  // namespace

std::string ClaimInfo::who() const { return host + ":" + std::to_string(pid); }

fs::path claim_path(const fs::path& run_dir, const std::string& id) {
  std::string name;
  for (char c : id) name += (c == '/' || c == ' ' || c == '\\') ? '_' : c;
  if (name.size() > 160 || name.rfind('.', 0) == 0) name = name.substr(0, 120) + "~" + sha1_hex(id).substr(0, 16);
  return run_dir / ".claims" / name;
}

std::optional<ClaimInfo> read_claim(const fs::path& run_dir, const std::string& id) {
  auto c = parse_claim(claim_path(run_dir, id));
  if (c && c->instance != id) return std::nullopt;
  return c;
}

std::map<std::string, ClaimInfo> list_claims(const fs::path& run_dir) {
  std::map<std::string, ClaimInfo> out;
  std::error_code ec;
  for (fs::directory_iterator it(run_dir / ".claims", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind('.', 0) == 0 || name.find(".stale.") != std::string::npos) continue;
    if (auto c = parse_claim(it->path()); c && !c->instance.empty()) out[c->instance] = *c;
  }
  return out;
}

std::chrono::milliseconds parse_claim_timeout(const std::string& text, const std::string& option) {
  std::size_t used = 0;
  double v = -1;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  const std::string unit = text.substr(used);
  double ms = unit == "ms" ? v : unit == "" || unit == "s" ? v * 1000 : unit == "m" ? v * 60000 : -1;
  if (used == 0 || !(ms >= 100) || ms > 86400000.0)
    throw UsageError(option + " " + text + ": expected a duration between 100ms and 24h, e.g. 60s, 500ms or 2m");
  return std::chrono::milliseconds(static_cast<long long>(ms));
}

Owner::Owner(fs::path run_dir, std::chrono::milliseconds claim_timeout)
    : run_dir_(std::move(run_dir)), timeout_(claim_timeout), host_(this_host()) {
  std::string host_part;
  for (char c : host_) host_part += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_';
  token_ = host_part + "-" + std::to_string(::getpid()) + "-" + random_hex(8);
  std::error_code ec;
  fs::create_directories(run_dir_ / ".workers", ec);
  fs::create_directories(run_dir_ / ".claims", ec);
  const fs::path me = run_dir_ / ".workers" / token_;
  std::ofstream(me) << Json{{"host", host_}, {"pid", ::getpid()}, {"started", utc_now_iso()}}.dump() << "\n";
  if (!fs::exists(me)) throw Error(me.string() + ": cannot register this process in the shared run folder");
  heartbeat_ = std::thread([this] { heartbeat_loop(); });
}

Owner::~Owner() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
  std::set<std::string> held;
  {
    std::lock_guard<std::mutex> l(mu_);
    held = held_;
  }
  for (const auto& id : held) release(id);
  std::error_code ec;
  fs::remove_all(tmp_root(), ec);
  fs::remove(run_dir_ / ".workers" / token_, ec);
}

void Owner::heartbeat_loop() {
  const auto every = std::clamp(timeout_ / 4, std::chrono::milliseconds(200), std::chrono::milliseconds(5000));
  std::unique_lock<std::mutex> l(mu_);
  while (!cv_.wait_for(l, every, [this] { return stop_; })) {
    touch(run_dir_ / ".workers" / token_);
    for (const auto& id : held_) {
      const fs::path f = claim_path(run_dir_, id);
      auto c = parse_claim(f);
      if (c && c->owner == token_) touch(f);  // a claim taken over is left alone; holds() reports it
    }
  }
}

bool Owner::take_over(const fs::path& file, const ClaimInfo& seen) {
  const fs::path aside = file.string() + ".stale." + token_;
  if (::rename(file.c_str(), aside.c_str()) != 0) return false;  // another taker was first
  const auto moved = parse_claim(aside);
  if (!moved || moved->owner != seen.owner || moved->heartbeat_age < seconds(timeout_)) {
    // Between reading the stale claim and moving it, someone else took it over: put theirs back.
    if (::link(aside.c_str(), file.c_str()) != 0 && errno != EEXIST) {
      // Nothing to do: the claim is gone; its owner sees that and gives the instance up.
    }
    ::unlink(aside.c_str());
    return false;
  }
  ::unlink(aside.c_str());
  return true;
}

bool Owner::claim(const std::string& id, ClaimInfo* holder) {
  const fs::path file = claim_path(run_dir_, id);
  const fs::path staging = file.parent_path() / ("." + file.filename().string() + "." + token_);
  const std::string content =
      Json{{"instance", id}, {"owner", token_}, {"host", host_}, {"pid", ::getpid()}, {"started", utc_now_iso()}}
          .dump() +
      "\n";
  std::optional<ClaimInfo> taken;  // the dead claim this owner took over, if any
  for (int attempt = 0; attempt < 5; ++attempt) {
    {
      std::ofstream out(staging, std::ios::binary | std::ios::trunc);
      out << content;
      if (!out.flush()) throw Error(staging.string() + ": cannot write a claim");
    }
    // link() publishes the whole file at once and fails when a claim exists: exactly one creator wins.
    const int rc = ::link(staging.c_str(), file.c_str());
    const int err = errno;
    ::unlink(staging.c_str());
    if (rc == 0) {
      std::lock_guard<std::mutex> l(mu_);
      held_.insert(id);
      if (holder) *holder = taken.value_or(ClaimInfo{});
      return true;
    }
    if (err != EEXIST) throw Error(file.string() + ": cannot create the claim: " + std::strerror(err));
    const auto c = parse_claim(file);
    if (!c) continue;  // removed meanwhile: try again
    if (c->owner == token_) return true;
    if (c->heartbeat_age < seconds(timeout_)) {
      if (holder) *holder = *c;
      return false;
    }
    if (take_over(file, *c)) taken = *c;
  }
  if (holder) holder->instance = id;
  return false;
}

bool Owner::holds(const std::string& id) const {
  const auto c = parse_claim(claim_path(run_dir_, id));
  return c && c->owner == token_;
}

void Owner::release(const std::string& id) {
  {
    std::lock_guard<std::mutex> l(mu_);
    held_.erase(id);
  }
  const fs::path file = claim_path(run_dir_, id);
  const auto c = parse_claim(file);
  if (!c || c->owner != token_) return;
  // Move it aside first, so that a claim another owner creates in between is never the one removed.
  const fs::path aside = file.string() + ".stale." + token_;
  if (::rename(file.c_str(), aside.c_str()) != 0) return;
  const auto moved = parse_claim(aside);
  if (moved && moved->owner != token_) ::link(aside.c_str(), file.c_str());
  ::unlink(aside.c_str());
}

std::set<std::string> Owner::reap_dead_owners() const {
  std::set<std::string> dead;
  const double limit = seconds(timeout_);
  auto is_dead = [&](const std::string& token) {
    if (token == token_) return false;
    const auto age = age_of(run_dir_ / ".workers" / token);
    return !age || *age > limit;
  };
  std::error_code ec;
  for (fs::directory_iterator it(run_dir_ / ".workers", ec), end; !ec && it != end; it.increment(ec))
    if (is_dead(it->path().filename().string())) dead.insert(it->path().filename().string());
  for (fs::directory_iterator it(run_dir_ / ".tmp", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    // A temp folder younger than the timeout may belong to an owner that is registering right now.
    const auto age = age_of(it->path());
    if (is_dead(name) && age && *age > limit) dead.insert(name);
  }
  for (fs::directory_iterator it(run_dir_ / "pipeline.lock.d", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().stem().string();
    const auto age = age_of(it->path());
    if (it->path().extension() == ".journal" && is_dead(name) && age && *age > limit) dead.insert(name);
  }
  for (const auto& token : dead) {
    std::error_code rm;
    fs::remove_all(run_dir_ / ".tmp" / token, rm);
    fs::remove(run_dir_ / ".workers" / token, rm);
  }
  return dead;
}

}  // namespace slimpipe::core
