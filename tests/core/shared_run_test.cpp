// A run folder shared by several processes: `slimpipe worker`s that build each instance once, a killed worker's
// claim taken over after the timeout, `run-instance` and its refusals, and plain `run` kept out meanwhile.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <thread>

#include "test_util.hpp"

namespace fs = std::filesystem;
using testutil::read_records;
using testutil::run_command;

namespace {

// Six cells of `sleep_ms` each and a collect node over them; every start and end lands in record.txt.
fs::path make_shared_pipeline(const std::string& tag, int sleep_ms, int cells = 6, const std::string& extra = "") {
  const fs::path dir = testutil::temp_dir(tag);
  testutil::write_file(dir / "model" / "config.json", "{}");
  std::string xs;
  for (int i = 0; i < cells; ++i) xs += (i ? ", " : "") + std::to_string(i);
  testutil::write_file(dir / "p.toml",
                       "[pipeline]\noutput_dir = \"out\"\n[model]\npath = \"model\"\n"
                       "[nodes.cell]\ntype = \"sleep_record\"\ninputs = [\"model\"]\n"
                       "record = \"record.txt\"\nsleep_ms = " +
                           std::to_string(sleep_ms) + "\n" + extra + "[nodes.cell.matrix]\nx = [" + xs +
                           "]\n[nodes.sum]\ntype = \"sleep_record\"\ninputs = [\"cell\"]\n"
                           "collect = true\nrecord = \"record.txt\"\n");
  return dir;
}

std::string worker(const fs::path& dir, const std::string& extra = "") {
  return testutil::cli() + " worker " + (dir / "p.toml").string() + " --claim-timeout 1s " + extra;
}

// Waits until `pred` holds, up to `seconds`.
template <class Pred>
bool wait_for(Pred pred, double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

}  // namespace

TEST(SharedRun, ThreeWorkersBuildEveryInstanceExactlyOnce) {
  const fs::path dir = make_shared_pipeline("workers3", 300);
  std::string cmd = "cd " + dir.string() + " && (";
  for (int w = 1; w <= 3; ++w)
    cmd += "(" + worker(dir) + " > w" + std::to_string(w) + ".log 2>&1; echo $? > w" + std::to_string(w) + ".rc) & ";
  cmd += "wait)";
  const auto r = run_command(cmd);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  int built = 0;
  for (int w = 1; w <= 3; ++w) {
    const std::string log = testutil::read_file(dir / ("w" + std::to_string(w) + ".log"));
    EXPECT_EQ(testutil::read_file(dir / ("w" + std::to_string(w) + ".rc")), "0\n") << log;
    const auto at = log.find("worker built ");
    ASSERT_NE(at, std::string::npos) << log;
    built += std::stoi(log.substr(at + 13));
  }
  EXPECT_EQ(built, 7);
  const auto rec = read_records(dir / "record.txt");
  ASSERT_EQ(rec.size(), 7u);
  for (const auto& [id, spans] : rec) {
    EXPECT_EQ(spans.size(), 1u) << id << " was built " << spans.size() << " times";
    EXPECT_GE(spans.front().end, spans.front().start) << id;
  }
  // Every result is committed: status says finished for all, a plain run has nothing to do, nothing is left over.
  const auto status = run_command(testutil::cli() + " status " + (dir / "p.toml").string());
  EXPECT_NE(status.output.find("7 finished"), std::string::npos) << status.output;
  const auto folder = run_command(testutil::cli() + " status " + (dir / "out").string());
  EXPECT_NE(folder.output.find("sum  finished"), std::string::npos) << folder.output;
  EXPECT_NE(folder.output.find(": 7 recorded, 0 claimed"), std::string::npos) << folder.output;
  EXPECT_TRUE(fs::is_empty(dir / "out" / ".claims"));
  // Each worker folded its journal into pipeline.lock when it ended.
  for (const auto& e : fs::directory_iterator(dir / "out" / "pipeline.lock.d"))
    EXPECT_NE(e.path().extension(), ".journal") << e.path();
  const auto again = run_command(testutil::cli() + " run " + (dir / "p.toml").string() + " -q");
  EXPECT_NE(again.output.find("0 ran, 7 cached"), std::string::npos) << again.output;
}

TEST(SharedRun, KilledWorkersClaimIsTakenOverAfterTheTimeoutAndFinished) {
  const fs::path dir = make_shared_pipeline("takeover", 4000, 1);
  const auto started = run_command("cd " + dir.string() + " && " + worker(dir) + " > a.log 2>&1 & echo $!");
  const int pid = std::stoi(started.output);
  ASSERT_TRUE(
      wait_for([&] { return testutil::read_file(dir / "record.txt").find("start cell") != std::string::npos; }, 20))
      << testutil::read_file(dir / "a.log");
  const auto claimed = run_command(testutil::cli() + " status " + (dir / "p.toml").string());
  EXPECT_NE(claimed.output.find("cell@x=0  claimed by "), std::string::npos) << claimed.output;
  // A plain run is kept out while a worker shares the folder.
  const auto plain = run_command(testutil::cli() + " run " + (dir / "p.toml").string() + " -q");
  EXPECT_NE(plain.exit_code, 0);
  EXPECT_NE(plain.output.find("in use by processes sharing it"), std::string::npos) << plain.output;
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));
  const auto dead = run_command(testutil::cli() + " status " + (dir / "p.toml").string() + " --claim-timeout 1s");
  EXPECT_NE(dead.output.find("(dead: the next worker takes it over)"), std::string::npos) << dead.output;
  const auto t0 = std::chrono::steady_clock::now();
  const auto b = run_command("cd " + dir.string() + " && " + worker(dir));
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(b.exit_code, 0) << b.output;
  EXPECT_GE(took, 4.0) << "the instance is built again in full: " << b.output;
  EXPECT_NE(b.output.find("[cell@x=0] warn: took over the claim of "), std::string::npos) << b.output;
  const auto rec = read_records(dir / "record.txt");
  ASSERT_EQ(rec.at("cell@x=0").size(), 2u);       // started by the killed worker, then by the second one
  EXPECT_EQ(rec.at("cell@x=0").front().end, -1);  // the killed one never finished
  EXPECT_GT(rec.at("cell@x=0").back().end, 0);    // the second one did
  EXPECT_EQ(rec.at("sum").size(), 1u);
  const auto status = run_command(testutil::cli() + " status " + (dir / "p.toml").string());
  EXPECT_NE(status.output.find("2 finished"), std::string::npos) << status.output;
  // The killed worker's temp folder, owner file and claim are gone.
  EXPECT_TRUE(fs::is_empty(dir / "out" / ".tmp")) << b.output;
  EXPECT_TRUE(fs::is_empty(dir / "out" / ".workers"));
  EXPECT_TRUE(fs::is_empty(dir / "out" / ".claims"));
}

TEST(SharedRun, RunInstanceNamesTheMissingInputThenBuildsOnlyItsInstance) {
  const fs::path dir = make_shared_pipeline("runinstance", 10, 2);
  const std::string p = (dir / "p.toml").string();
  const auto early = run_command(testutil::cli() + " run-instance " + p + " sum");
  EXPECT_EQ(early.exit_code, 1) << early.output;
  EXPECT_NE(early.output.find("run-instance sum: input cell@x=0 is not committed"), std::string::npos) << early.output;
  const auto node = run_command(testutil::cli() + " run-instance " + p + " cell");
  EXPECT_EQ(node.exit_code, 2) << node.output;
  EXPECT_NE(node.output.find("the node has 2 instances"), std::string::npos) << node.output;
  for (const char* id : {"cell@x=0", "cell@x=1"}) {
    const auto r = run_command(testutil::cli() + " run-instance " + p + " " + id);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  EXPECT_EQ(read_records(dir / "record.txt").size(), 2u);
  const auto again = run_command(testutil::cli() + " run-instance " + p + " cell@x=0");
  EXPECT_NE(again.output.find("cell@x=0 is up to date"), std::string::npos) << again.output;
  // A non-zero rank computes and commits nothing: sum stays pending.
  const auto follower = run_command("RANK=1 WORLD_SIZE=2 " + testutil::cli() + " run-instance " + p + " sum");
  ASSERT_EQ(follower.exit_code, 0) << follower.output;
  EXPECT_NE(follower.output.find("rank 1 ran sum; rank 0 commits it"), std::string::npos) << follower.output;
  // The same under srun (inside a step); a batch script's SLURM_PROCID/SLURM_NTASKS alone make no group.
  const auto srun =
      run_command("SLURM_PROCID=1 SLURM_NTASKS=2 SLURM_STEP_ID=0 " + testutil::cli() + " run-instance " + p + " sum");
  EXPECT_NE(srun.output.find("rank 1 ran sum; rank 0 commits it"), std::string::npos) << srun.output;
  EXPECT_EQ(read_records(dir / "record.txt").at("sum").size(), 2u);
  const auto status = run_command(testutil::cli() + " status " + p);
  EXPECT_NE(status.output.find("sum  pending"), std::string::npos) << status.output;
  const auto leader = run_command(testutil::cli() + " run-instance " + p + " sum");
  ASSERT_EQ(leader.exit_code, 0) << leader.output;
  EXPECT_NE(run_command(testutil::cli() + " status " + p).output.find("3 finished"), std::string::npos);
}

TEST(SharedRun, FailedInstanceIsNamedAndItsDependantsSkippedByEveryWorker) {
  const fs::path dir = make_shared_pipeline("workerfail", 50, 3, "fail_on = [1]\n");
  const auto r = run_command("cd " + dir.string() + " && (" + worker(dir) + " > a.log 2>&1 & " + worker(dir) +
                             " > b.log 2>&1; echo b=$?; wait $!; echo a=$?)");
  EXPECT_NE(r.output.find("a=1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("b=1"), std::string::npos) << r.output;
  for (const char* log : {"a.log", "b.log"}) {
    const std::string text_log = testutil::read_file(dir / log);
    EXPECT_NE(text_log.find("failed: cell@x=1: instance cell@x=1 told to fail"), std::string::npos) << text_log;
    EXPECT_NE(text_log.find("skipped: sum: input cell@x=1 failed"), std::string::npos) << text_log;
  }
  const auto rec = read_records(dir / "record.txt");
  EXPECT_EQ(rec.at("cell@x=1").size(), 1u);
  EXPECT_EQ(rec.count("sum"), 0u);
}

TEST(SharedRun, LaunchedRanksRunTheInstanceAndOnlyRankZeroCommitsIt) {
  const fs::path dir = make_shared_pipeline("launchranks", 200, 2);
  const fs::path scratch = dir / "tmp";
  fs::create_directories(scratch);
  const std::string run_instance = testutil::cli() + " run-instance " + (dir / "p.toml").string() + " cell@x=1";
  const auto r = run_command("cd " + dir.string() + " && TMPDIR=" + scratch.string() + " " + SLIMPIPE_CLI +
                             " launch --nproc 2 -- " + run_instance);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("rank 1 ran cell@x=1; rank 0 commits it"), std::string::npos) << r.output;
  EXPECT_EQ(read_records(dir / "record.txt").at("cell@x=1").size(), 2u);  // both ranks computed it
  const auto status = run_command(testutil::cli() + " status " + (dir / "p.toml").string());
  EXPECT_NE(status.output.find("cell@x=1  finished"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("cell@x=0  pending"), std::string::npos) << status.output;
  EXPECT_TRUE(fs::is_empty(scratch)) << "rank 1's private scratch folder is removed";
  EXPECT_TRUE(fs::is_empty(dir / "out" / ".claims"));
}
