// The pieces of a shared run folder, in process: one winner among many claimers of an instance and of a dead claim,
// and the merge of pipeline.lock with the per-process journals (the entry finished last wins, nothing recorded is
// lost).
#include "slimpipe/core/claims.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <thread>

#include "slimpipe/core/lockfile.hpp"
#include "slimpipe/core/run_lock.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
using namespace slimpipe::core;
using namespace std::chrono_literals;

namespace {

// Eight owners claim `id` at once; returns how many won.
int race_for(const fs::path& run, const std::string& id, std::chrono::milliseconds timeout) {
  std::vector<std::unique_ptr<Owner>> owners;
  for (int i = 0; i < 8; ++i) owners.push_back(std::make_unique<Owner>(run, timeout));
  std::atomic<int> winners{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (auto& o : owners)
    threads.emplace_back([&, owner = o.get()] {
      while (!go) std::this_thread::yield();
      if (owner->claim(id)) ++winners;
    });
  go = true;
  for (auto& t : threads) t.join();
  return winners;
}

void age_file(const fs::path& p, int seconds) {
  struct timespec times[2];
  ::clock_gettime(CLOCK_REALTIME, &times[0]);
  times[0].tv_sec -= seconds;
  times[1] = times[0];
  ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), times, 0), 0) << p;
}

LockEntry entry(const std::string& id, const std::string& status, const std::string& finished) {
  LockEntry e;
  e.id = id;
  e.status = status;
  e.finished = finished;
  return e;
}

}  // namespace

TEST(Claims, ExactlyOneOfEightOwnersWinsAFreeClaim) {
  const fs::path run = testutil::temp_dir("claims-free");
  EXPECT_EQ(race_for(run, "cell@x=1", 60s), 1);
  EXPECT_EQ(list_claims(run).size(), 0u) << "every owner released its claims when it ended";
}

TEST(Claims, ExactlyOneOfEightOwnersTakesOverADeadClaimAndALiveOneIsKept) {
  const fs::path run = testutil::temp_dir("claims-dead");
  {
    Owner dead(run, 1s);
    ASSERT_TRUE(dead.claim("cell@x=1"));
    // A process killed while it held the claim: the file stays, its heartbeat stops.
    const fs::path file = claim_path(run, "cell@x=1");
    fs::copy_file(file, run / "kept");
    dead.release("cell@x=1");
    fs::rename(run / "kept", file);
    age_file(file, 5);
    const auto c = read_claim(run, "cell@x=1");
    ASSERT_TRUE(c);
    EXPECT_GE(c->heartbeat_age, 4.5);
    EXPECT_EQ(c->owner, dead.token());
  }
  EXPECT_EQ(race_for(run, "cell@x=1", 1s), 1);

  Owner live(run, 60s), other(run, 60s);
  ASSERT_TRUE(live.claim("cell@x=2"));
  ClaimInfo holder;
  EXPECT_FALSE(other.claim("cell@x=2", &holder));
  EXPECT_EQ(holder.owner, live.token());
  EXPECT_TRUE(live.holds("cell@x=2"));
  EXPECT_FALSE(other.holds("cell@x=2"));
}

TEST(Claims, ClaimTimeoutParsesUnitsAndRefusesNonsense) {
  EXPECT_EQ(parse_claim_timeout("60", "--claim-timeout"), 60000ms);
  EXPECT_EQ(parse_claim_timeout("1.5s", "--claim-timeout"), 1500ms);
  EXPECT_EQ(parse_claim_timeout("250ms", "--claim-timeout"), 250ms);
  EXPECT_EQ(parse_claim_timeout("2m", "--claim-timeout"), 120000ms);
  for (const char* bad : {"", "soon", "10h5", "-3s", "0", "50ms"})
    EXPECT_THROW(parse_claim_timeout(bad, "--claim-timeout"), slimpipe::UsageError) << bad;
}

TEST(Claims, JournalsOfEveryOwnerAreMergedAndTheLastFinishedEntryWins) {
  const fs::path run = testutil::temp_dir("claims-merge");
  {
    RunLock lock(run, LockMode::Shared);
    Lockfile a(run), b(run);
    a.hold(lock);
    b.hold(lock);
    a.set_owner("host-1-aaaa");
    b.set_owner("host-2-bbbb");
    a.record(entry("x", "failed", "2026-01-01T00:00:01Z"));
    b.record(entry("x", "done", "2026-01-01T00:00:02Z"));  // a retry that worked: later, wins
    b.record(entry("y", "done", "2026-01-01T00:00:05Z"));
    a.record(entry("y", "failed", "2026-01-01T00:00:05Z"));  // the same second: success wins
    a.record(entry("z", "done", "2026-01-01T00:00:03Z"));
    b.commit_shared({});  // folds b's journal into pipeline.lock; a's journal stays
    EXPECT_TRUE(fs::exists(run / "pipeline.lock.d" / "host-1-aaaa.journal"));
    EXPECT_FALSE(fs::exists(run / "pipeline.lock.d" / "host-2-bbbb.journal"));
  }
  Lockfile reader(run);
  reader.load();
  ASSERT_EQ(reader.entries().size(), 3u);
  EXPECT_EQ(reader.find("x")->status, "done");
  EXPECT_EQ(reader.find("y")->status, "done");
  EXPECT_EQ(reader.find("z")->status, "done");
  // A plain run (exclusive) folds every journal and removes them.
  RunLock exclusive(run);
  reader.hold(exclusive);
  reader.commit();
  EXPECT_FALSE(fs::exists(run / "pipeline.lock.d"));
  Lockfile after(run);
  after.load();
  EXPECT_EQ(after.entries().size(), 3u);
  EXPECT_EQ(after.find("x")->status, "done");
}
