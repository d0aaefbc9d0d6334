// `slimpipe launch`: every rank gets torchrun's variables, the collectives work across the ranks it starts, a
// failing rank stops the others and is named in the exit, SIGTERM reaches every rank, and bad options are one-line
// usage errors.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>

#include "dist_test_support.hpp"

namespace {

using namespace slimpipe::dist_test;

const std::string kLaunch = std::string("'") + SLIMPIPE_CLI + "' launch";

TEST(Launch, StartsEveryRankWithTorchrunVariables) {
  Scratch s("launch-vars");
  const Outcome o =
      run_shell(kLaunch + " --nproc 3 --master-port 29877 -- sh -c 'echo \"$RANK $LOCAL_RANK $WORLD_SIZE " +
                    "$MASTER_ADDR $MASTER_PORT [$SLIMPIPE_RANK_SUFFIX]\" > " + s.dir().string() + "/rank.$RANK'",
                s, "vars");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(read_text(s.dir() / "rank.0"), "0 0 3 127.0.0.1 29877 []\n");
  EXPECT_EQ(read_text(s.dir() / "rank.1"), "1 1 3 127.0.0.1 29877 [.rank1]\n");
  EXPECT_EQ(read_text(s.dir() / "rank.2"), "2 2 3 127.0.0.1 29877 [.rank2]\n");
}

TEST(Launch, RanksItStartsFormAProcessGroup) {
  // The collectives check of test_dist's worker, on a free port that launch picks.
  Scratch s("launch-group");
  const Outcome o =
      run_shell(kLaunch + " --nproc 2 -- '" + SLIMPIPE_DIST_WORKER + "' '" + (s / "out.txt") + "'", s, "group");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.err.find("MASTER_PORT="), std::string::npos) << o.err;
  EXPECT_FALSE(read_text(s.dir() / "out.txt").empty());
}

TEST(Launch, TwoGroupsFormAndWorkSideBySide) {
  // Two training instances of one pipeline running at once each form their group: neither waits on the other.
  Scratch s("launch-groups");
  const Outcome o = run_shell(std::string("timeout 120 ") + kLaunch + " --nproc 2 -- '" + SLIMPIPE_TRAIN_WORKER +
                                  "' concurrent_groups '" + (s / "out.txt") + "'",
                              s, "groups");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(read_text(s.dir() / "out.txt"), "ok\n");
}

TEST(Launch, AFailingRankStopsTheOthersAndIsNamed) {
  Scratch s("launch-fail");
  const auto start = std::chrono::steady_clock::now();
  const Outcome o = run_shell(
      kLaunch + " --nproc 3 -- sh -c 'if [ \"$RANK\" = 1 ]; then sleep 0.5; exit 7; fi; exec sleep 60'", s, "fail");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(o.status, 7) << o.err;
  EXPECT_NE(o.err.find("rank 1 (pid "), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("exited with status 7; stopping the other ranks"), std::string::npos) << o.err;
  EXPECT_LT(seconds, 20.0) << "the sleeping ranks were not stopped";
}

TEST(Launch, PassesSigtermOnToEveryRank) {
  Scratch s("launch-term");
  const std::string dir = s.dir().string();
  std::ofstream(s / "rank.sh") << "trap 'echo stopped > " << dir << "/term.$RANK; exit 0' TERM\n"
                               << "touch " << dir << "/up.$RANK\nsleep 60 & wait\n";
  const Outcome o = run_shell(kLaunch + " --nproc 2 -- sh '" + (s / "rank.sh") + "' & pid=$!; for i in $(seq 100); " +
                                  "do [ -e " + dir + "/up.0 ] && [ -e " + dir + "/up.1 ] && break; sleep 0.1; done; " +
                                  "kill -TERM $pid; wait $pid",
                              s, "term");
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(read_text(s.dir() / "term.0"), "stopped\n");
  EXPECT_EQ(read_text(s.dir() / "term.1"), "stopped\n");
}

TEST(Launch, KillsRanksStillRunningFiveSecondsAfterSigterm) {
  Scratch s("launch-kill");
  const std::string dir = s.dir().string();
  std::ofstream(s / "rank.sh") << "trap '' TERM\ntouch " << dir << "/up.$RANK\nsleep 60\n";  // ignores SIGTERM
  const auto start = std::chrono::steady_clock::now();
  const Outcome o = run_shell(kLaunch + " --nproc 2 -- sh '" + (s / "rank.sh") + "' & pid=$!; for i in $(seq 100); " +
                                  "do [ -e " + dir + "/up.0 ] && [ -e " + dir + "/up.1 ] && break; sleep 0.1; done; " +
                                  "kill -TERM $pid; wait $pid",
                              s, "kill");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(o.status, 128 + 9) << o.err;  // the ranks' status: SIGKILL
  EXPECT_LT(seconds, 30.0);
}

TEST(Launch, BadOptionsAreOneLineUsageErrors) {
  Scratch s("launch-usage");
  auto error_of = [&](const std::string& args) {
    const Outcome o = run_shell(kLaunch + " " + args, s, "usage");
    EXPECT_EQ(o.status, 2) << args << ": " << o.err;
    return o.err;
  };
  EXPECT_EQ(error_of("--nproc 0 -- true"), "slimpipe: launch: --nproc expects an integer in [1, 1024], got '0'\n");
  EXPECT_EQ(error_of("--nproc two -- true"), "slimpipe: launch: --nproc expects an integer in [1, 1024], got 'two'\n");
  EXPECT_EQ(error_of("-- true"), "slimpipe: launch: --nproc N is required (how many processes to start)\n");
  EXPECT_EQ(error_of("--nproc 2"), "slimpipe: launch: no command to run (write it after --)\n");
  EXPECT_EQ(error_of("--nproc 2 --master-port 70000 -- true"),
            "slimpipe: launch: --master-port expects an integer in [1, 65535], got '70000'\n");
  EXPECT_EQ(error_of("--nprocs 2 -- true"),
            "slimpipe: launch: unknown option '--nprocs' (expected --nproc N, --master-port P, then -- COMMAND)\n");
  // A command that cannot start: exit 127 from rank 0, named.
  const Outcome o = run_shell(kLaunch + " --nproc 2 -- /nonexistent/program", s, "missing");
  EXPECT_EQ(o.status, 127);
  EXPECT_NE(o.err.find("cannot run the command"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("exited with status 127"), std::string::npos) << o.err;
}

}  // namespace
