// The executor through the CLI, as users run it: parallelism limits, caching, resume after a kill
// or Ctrl-C, and failures that stay inside their grid cell.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <sstream>
#include <thread>

#include "test_util.hpp"

namespace fs = std::filesystem;
using testutil::read_records;
using testutil::run_command;

namespace {

struct Workspace {
  fs::path dir;
  fs::path pipeline;
  fs::path record;
};

Workspace make_pipeline(const std::string& tag, int max_parallel, int cells, int sleep_ms,
                        const std::string& extra = "") {
  Workspace w;
  w.dir = testutil::temp_dir(tag);
  w.pipeline = w.dir / "p.toml";
  w.record = w.dir / "record.txt";
  testutil::write_file(w.dir / "model" / "config.json", "{}");
  std::string xs;
  for (int i = 0; i < cells; ++i) xs += (i ? ", " : "") + std::to_string(i);
  testutil::write_file(
      w.pipeline,
      "[pipeline]\nmax_parallel = " + std::to_string(max_parallel) +
          "\noutput_dir = \"out\"\n[model]\npath = \"model\"\n"
          "[nodes.cell]\ntype = \"sleep_record\"\ninputs = [\"model\"]\nrecord = \"record.txt\"\nsleep_ms = " +
          std::to_string(sleep_ms) + "\n" + extra + "[nodes.cell.matrix]\nx = [" + xs + "]\n");
  return w;
}

int max_overlap(const std::map<std::string, std::vector<testutil::Span>>& rec) {
  std::vector<std::pair<long long, int>> events;
  for (const auto& [id, spans] : rec)
    for (const auto& s : spans) {
      events.push_back({s.start, +1});
      events.push_back({s.end, -1});
    }
  std::sort(events.begin(), events.end());
  int cur = 0, best = 0;
  for (const auto& e : events) best = std::max(best, cur += e.second);
  return best;
}

}  // namespace

TEST(Executor, MaxParallelTwoRunsTwoAtOnce) {
  auto w = make_pipeline("par2", 2, 6, 250);
  auto r = run_command(testutil::cli() + " run " + w.pipeline.string() + " -q");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto rec = read_records(w.record);
  ASSERT_EQ(rec.size(), 6u);
  EXPECT_EQ(max_overlap(rec), 2);
}

TEST(Executor, MaxParallelOneNeverOverlaps) {
  auto w = make_pipeline("par1", 1, 5, 60);
  auto r = run_command(testutil::cli() + " run " + w.pipeline.string() + " -q");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto rec = read_records(w.record);
  ASSERT_EQ(rec.size(), 5u);
  EXPECT_EQ(max_overlap(rec), 1);
}

TEST(Executor, SecondRunRunsNothing) {
  auto w = make_pipeline("cache", 2, 4, 10);
  auto first = run_command(testutil::cli() + " run " + w.pipeline.string() + " -q");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find("4 ran, 0 cached"), std::string::npos) << first.output;
  auto second = run_command(testutil::cli() + " run " + w.pipeline.string() + " -q");
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("0 ran, 4 cached"), std::string::npos) << second.output;
  // Every run ends with the run report; pipeline.lock records the pipeline's name (here the file's stem).
  EXPECT_NE(second.output.find("slimpipe: report in " + (w.dir / "out" / "report.md").string()), std::string::npos)
      << second.output;
  const auto report = run_command(std::string(SLIMPIPE_CLI) + " report " + (w.dir / "out").string());
  EXPECT_EQ(report.exit_code, 0) << report.output;
  EXPECT_NE(report.output.find("# Run report: p\n"), std::string::npos) << report.output;
  EXPECT_NE(report.output.find("4 instances: 4 done, 0 failed"), std::string::npos) << report.output;
  EXPECT_EQ(read_records(w.record).size(), 4u);
  for (const auto& [id, spans] : read_records(w.record)) EXPECT_EQ(spans.size(), 1u) << id;
  auto plan = run_command(testutil::cli() + " plan " + w.pipeline.string());
  EXPECT_NE(plan.output.find("0 to run, 4 cached"), std::string::npos) << plan.output;
  // A changed parameter reruns, and says why.
  auto changed = run_command(testutil::cli() + " plan " + w.pipeline.string() + " --set nodes.cell.payload=new");
  EXPECT_NE(changed.output.find("parameters changed (payload)"), std::string::npos) << changed.output;
  // --force and --only select work.
  auto forced = run_command(testutil::cli() + " run " + w.pipeline.string() + " -q --force cell@x=1");
  EXPECT_NE(forced.output.find("1 ran, 3 cached"), std::string::npos) << forced.output;
  auto bad = run_command(testutil::cli() + " run " + w.pipeline.string() + " -q --only cell@x=9");
  EXPECT_EQ(bad.exit_code, 2);  // a usage error: nothing ran
  EXPECT_NE(bad.output.find("--only cell@x=9: no such instance or node (did you mean"), std::string::npos)
      << bad.output;
}

// --only X on a fresh folder: X runs; what reads the instances left out is not selected too, not "skipped",
// so the run exits 0 when what was asked succeeded.
TEST(Executor, OnlyExitsZeroWhenTheSelectedInstanceSucceeds) {
  auto w = make_pipeline("only", 1, 3, 0);
  testutil::write_file(
      w.pipeline,
      testutil::read_file(w.pipeline) +
          "[nodes.rank]\ntype = \"sleep_record\"\ninputs = [\"cell\"]\ncollect = true\nrecord = \"record.txt\"\n");
  auto r = run_command(testutil::cli() + " run " + w.pipeline.string() + " --only cell@x=0");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("1 ran, 0 cached, 0 failed, 0 skipped, 3 not selected"), std::string::npos) << r.output;
  EXPECT_EQ(read_records(w.record).size(), 1u);
  // Selected but its inputs left out: that cannot run, and says so.
  auto rank = run_command(testutil::cli() + " run " + w.pipeline.string() + " --only rank");
  EXPECT_EQ(rank.exit_code, 1) << rank.output;
  EXPECT_NE(rank.output.find("skipped: rank: input cell@x=1 not selected"), std::string::npos) << rank.output;
}

// Off a terminal: one line per event, progress at most every few seconds, nothing for a phase under a second
// (the log file keeps those lines).
TEST(Console, PlainLinesSkipSubSecondNoise) {
  auto w = make_pipeline("console-plain", 2, 2, 1200);
  auto r = run_command(testutil::cli() + " run " + w.pipeline.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("[cell@x=0] sleep: done in 1."), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("work:"), std::string::npos) << r.output;  // the plugin's 0 ms phase
  EXPECT_EQ(r.output.find("started ("), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("\x1b["), std::string::npos) << r.output;
  const std::string log = testutil::read_file(w.dir / "out" / "logs" / "run.log");
  EXPECT_NE(log.find("work: done in 0.0 s"), std::string::npos) << log;
  EXPECT_NE(log.find("sleep: started (120 steps)"), std::string::npos) << log;
}

// --log-format json: every line the run prints before its closing summary is one JSON object.
TEST(Console, JsonLinesForMachines) {
  auto w = make_pipeline("console-json", 2, 2, 1200);
  auto r = run_command(testutil::cli() + " run " + w.pipeline.string() + " --log-format json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::istringstream lines(r.output);
  std::string line;
  int objects = 0, done = 0, phase_ends = 0, progress = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("slimpipe: ", 0) == 0) continue;  // the closing summary and report lines
    const auto j = slimpipe::Json::parse(line);
    ++objects;
    EXPECT_TRUE(j.contains("time")) << line;
    if (j["event"] == "instance" && j["status"] == "done") ++done;
    if (j["event"] == "phase" && j["state"] == "end" && j["phase"] == "sleep") ++phase_ends;
    if (j["event"] == "progress") ++progress;
  }
  EXPECT_EQ(done, 2) << r.output;
  EXPECT_EQ(phase_ends, 2) << r.output;
  EXPECT_GE(progress, 2) << r.output;  // once a second per instance
  EXPECT_GT(objects, 6) << r.output;
  auto bad = run_command(testutil::cli() + " run " + w.pipeline.string() + " --log-format xml");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("--log-format xml: expected text, live, plain or json"), std::string::npos) << bad.output;
}

// The live view (what a terminal gets; --log-format live forces it, so no pseudo-terminal is needed): a block
// redrawn in place, with the header (k of N instances, elapsed) and a line per running instance with its phase,
// percentage and rate.
TEST(Console, LiveBlockOnATerminal) {
  auto w = make_pipeline("console-live", 2, 3, 1200);
  auto r = run_command(testutil::cli() + " run " + w.pipeline.string() + " --log-format live");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("\x1b[J"), std::string::npos) << r.output;  // the block is erased and redrawn
  EXPECT_NE(r.output.find("slimpipe: 0/3 instances, 2 running"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("slimpipe: 2/3 instances, 1 running"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("  cell@x=0  sleep: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(" it/s, ETA "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("3 ran, 0 cached"), std::string::npos) << r.output;
}

TEST(Executor, KilledRunResumesWithoutRedoingFinishedInstances) {
  auto w = make_pipeline("kill", 1, 6, 200);
  std::string cmd =
      "exec " + testutil::cli() + " run " + w.pipeline.string() + " -q > " + (w.dir / "log.txt").string() + " 2>&1";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Wait until two instances have finished, then kill -9 mid-way through the third.
  for (int i = 0; i < 400; ++i) {
    int ends = 0;
    for (const auto& [id, spans] : read_records(w.record))
      for (const auto& s : spans) ends += s.end >= 0;
    if (ends >= 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  auto before = read_records(w.record);
  std::set<std::string> finished;
  for (const auto& [id, spans] : before)
    if (spans.back().end >= 0) finished.insert(id);
  ASSERT_GE(finished.size(), 2u);
  ASSERT_LT(finished.size(), 6u);

  auto r = run_command(testutil::cli() + " run " + w.pipeline.string() + " -q");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto after = read_records(w.record);
  EXPECT_EQ(after.size(), 6u);
  for (const auto& id : finished) EXPECT_EQ(after[id].size(), 1u) << id << " was redone";
  EXPECT_NE(r.output.find(std::to_string(finished.size()) + " cached"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(w.dir / "out" / "pipeline.lock.journal"));
}

TEST(Executor, CtrlCStopsCleanlyAndKeepsFinishedInstances) {
  auto w = make_pipeline("sigint", 1, 5, 200);
  std::string cmd =
      "exec " + testutil::cli() + " run " + w.pipeline.string() + " -q > " + (w.dir / "log.txt").string() + " 2>&1";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  for (int i = 0; i < 400 && read_records(w.record).size() < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130) << testutil::read_file(w.dir / "log.txt");
  EXPECT_NE(testutil::read_file(w.dir / "log.txt").find("run the same command again to resume"), std::string::npos);
  auto before = read_records(w.record);
  int done = 0;
  for (const auto& [id, spans] : before) done += spans.back().end >= 0;
  auto r = run_command(testutil::cli() + " run " + w.pipeline.string() + " -q");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(std::to_string(5 - done) + " ran, " + std::to_string(done) + " cached"), std::string::npos)
      << r.output;
}

TEST(Executor, FailingCellDoesNotStopTheOthers) {
  auto w = make_pipeline("fail", 2, 5, 20, "fail_on = [2]\n");
  testutil::write_file(
      w.pipeline, testutil::read_file(w.pipeline) + "[nodes.after]\ntype = \"sleep_record\"\ninputs = [\"cell\"]\n");
  auto r = run_command(testutil::cli() + " run " + w.pipeline.string() + " -q");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("8 ran, 0 cached, 1 failed, 1 skipped"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("failed: cell@x=2: instance cell@x=2 told to fail"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("skipped: after@x=2: input cell@x=2 failed"), std::string::npos) << r.output;
  // The failure is recorded; the next run retries only it (and what depends on it).
  auto plan = run_command(testutil::cli() + " plan " + w.pipeline.string());
  EXPECT_NE(plan.output.find("will-run  cell@x=2  (failed last time"), std::string::npos) << plan.output;
  EXPECT_NE(plan.output.find("2 to run, 8 cached"), std::string::npos) << plan.output;
}

TEST(Executor, ArtifactsHaveManifestsAndNoTempLeftovers) {
  auto w = make_pipeline("manifest", 1, 1, 0, "outputs = [\"width_0.75\", \"width_0.5\"]\n");
  auto r = run_command(testutil::cli() + " run " + w.pipeline.string() + " -q");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto m = slimpipe::Json::parse(testutil::read_file(w.dir / "out/cell/x=0/width_0.5/manifest.json"));
  EXPECT_EQ(m["id"], "cell@x=0/width_0.5");
  EXPECT_EQ(m["kind"], "test");
  EXPECT_EQ(m["files"][0]["path"], "out.txt");
  EXPECT_EQ(m["parents"][0]["id"], "model");
  EXPECT_EQ(m["hash"].get<std::string>().size(), 40u);
  EXPECT_FALSE(fs::exists(w.dir / "out" / ".tmp") && !fs::is_empty(w.dir / "out" / ".tmp"));
}

// A label's line break is DOT's one-backslash escape (graphviz draws two lines), never a doubled backslash
// that graphviz prints literally; Mermaid gets <br/>.
TEST(Graph, LabelLineBreaksAreRealBreaks) {
  auto w = make_pipeline("graph-breaks", 1, 1, 0, "");
  auto d = run_command(testutil::cli() + " graph " + w.pipeline.string() + " --format dot");
  ASSERT_EQ(d.exit_code, 0) << d.output;
  EXPECT_NE(d.output.find("\\n("), std::string::npos) << d.output;
  EXPECT_EQ(d.output.find("\\\\n"), std::string::npos) << d.output;
  auto m = run_command(testutil::cli() + " graph " + w.pipeline.string() + " --format mermaid");
  ASSERT_EQ(m.exit_code, 0) << m.output;
  EXPECT_NE(m.output.find("<br/>("), std::string::npos) << m.output;
  EXPECT_EQ(m.output.find("\\n"), std::string::npos) << m.output;
}

TEST(Graph, DotOutputIsAcceptedByGraphviz) {
  if (run_command("command -v dot").exit_code != 0) GTEST_SKIP() << "graphviz 'dot' is not installed";
  auto w = make_pipeline("graph", 1, 3, 0, "outputs = [\"a\", \"b\"]\n");
  testutil::write_file(w.pipeline, testutil::read_file(w.pipeline) +
                                       "[nodes.rank]\ntype = \"sleep_record\"\ninputs = [\"cell\"]\ncollect = true\n");
  auto r =
      run_command(testutil::cli() + " graph " + w.pipeline.string() + " --format dot > " + (w.dir / "g.dot").string() +
                  " && dot -Tsvg " + (w.dir / "g.dot").string() + " -o " + (w.dir / "g.svg").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(testutil::read_file(w.dir / "g.svg").find("<svg"), std::string::npos);
  auto m = run_command(testutil::cli() + " graph " + w.pipeline.string() + " --format mermaid");
  EXPECT_EQ(m.output.rfind("flowchart LR", 0), 0u) << m.output;
}

// The task's data files are part of the cache key by content: editing one in place reruns what reads the task
// and plan says which file changed and how; touching it (same bytes) reruns nothing.
TEST(Executor, EditedTaskDataFileReruns) {
  auto w = make_pipeline("data_edit", 1, 2, 0, "");
  testutil::write_file(w.dir / "train.txt", "first line\n");
  testutil::write_file(w.pipeline,
                       "[task]\ntype = \"echo_task\"\ntrain = \"train.txt\"\n" + testutil::read_file(w.pipeline));
  auto first = run_command(testutil::cli() + " run " + w.pipeline.string() + " -q");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find("2 ran, 0 cached"), std::string::npos) << first.output;

  // Same bytes, a newer modification time: the content decides, nothing reruns.
  fs::last_write_time(w.dir / "train.txt", fs::last_write_time(w.dir / "train.txt") + std::chrono::hours(1));
  auto touched = run_command(testutil::cli() + " plan " + w.pipeline.string());
  EXPECT_NE(touched.output.find("0 to run, 2 cached"), std::string::npos) << touched.output;

  // Edited in place, same size.
  testutil::write_file(w.dir / "train.txt", "other line\n");
  const std::string file = (w.dir / "train.txt").lexically_normal().string();
  auto same_size = run_command(testutil::cli() + " plan " + w.pipeline.string());
  EXPECT_NE(same_size.output.find("will-run  cell@x=0  (data changed: task.train = " + file +
                                  " (edited, same size, other content))"),
            std::string::npos)
      << same_size.output;
  EXPECT_NE(same_size.output.find("2 to run, 0 cached"), std::string::npos) << same_size.output;

  // Edited to another size.
  testutil::write_file(w.dir / "train.txt", "a longer first line\n");
  auto resized = run_command(testutil::cli() + " plan " + w.pipeline.string());
  EXPECT_NE(resized.output.find("(data changed: task.train = " + file + " (edited, 11 -> 20 bytes))"),
            std::string::npos)
      << resized.output;

  auto rerun = run_command(testutil::cli() + " run " + w.pipeline.string() + " -q");
  ASSERT_EQ(rerun.exit_code, 0) << rerun.output;
  EXPECT_NE(rerun.output.find("2 ran, 0 cached"), std::string::npos) << rerun.output;
  auto again = run_command(testutil::cli() + " run " + w.pipeline.string() + " -q");
  EXPECT_NE(again.output.find("0 ran, 2 cached"), std::string::npos) << again.output;

  // Gone: plan says so instead of serving results built from it.
  fs::remove(w.dir / "train.txt");
  auto gone = run_command(testutil::cli() + " plan " + w.pipeline.string());
  EXPECT_NE(gone.output.find("(data changed: task.train = " + file + " (is missing))"), std::string::npos)
      << gone.output;
}
