// A run folder that survives faults and misuse: one writer at a time (the run lock), artifacts whose
// manifests prove their files (sizes for every plan and run, SHA-1s for `slimpipe verify`), damaged or
// half-written state never taken for finished work, a full disk that fails an instance and not the process,
// and rank refusing to publish a file its manifest does not vouch for.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <thread>

#include "slimpipe/core/lockfile.hpp"
#include "slimpipe/core/run_lock.hpp"
#include "slimpipe/hash.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
using slimpipe::Json;
using testutil::read_records;
using testutil::run_command;

namespace {

struct Workspace {
  fs::path dir, pipeline, record, out;
};

Workspace make_pipeline(const std::string& tag, int cells, int sleep_ms, const std::string& extra = "") {
  Workspace w;
  w.dir = testutil::temp_dir(tag);
  w.pipeline = w.dir / "p.toml";
  w.record = w.dir / "record.txt";
  w.out = w.dir / "out";
  testutil::write_file(w.dir / "model" / "config.json", "{}");
  std::string xs;
  for (int i = 0; i < cells; ++i) xs += (i ? ", " : "") + std::to_string(i);
  testutil::write_file(w.pipeline,
                       "[pipeline]\nmax_parallel = 1\noutput_dir = \"out\"\n[model]\npath = \"model\"\n"
                       "[nodes.cell]\ntype = \"sleep_record\"\ninputs = [\"model\"]\nrecord = \"record.txt\"\n"
                       "sleep_ms = " +
                           std::to_string(sleep_ms) + "\n" + extra + "[nodes.cell.matrix]\nx = [" + xs + "]\n");
  return w;
}

std::string cli_run(const Workspace& w, const std::string& args = " -q") {
  return testutil::cli() + " run " + w.pipeline.string() + args;
}

// Starts `slimpipe run` in the background; the pid is slimpipe's own (exec).
pid_t start_run(const Workspace& w, const std::string& log_name) {
  const std::string cmd = "exec " + cli_run(w) + " > " + (w.dir / log_name).string() + " 2>&1";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

bool wait_for_start(const Workspace& w) {
  for (int i = 0; i < 1000; ++i) {
    if (!read_records(w.record).empty()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

Json manifest(const fs::path& dir) { return Json::parse(testutil::read_file(dir / "manifest.json")); }

std::string sha1_of(const fs::path& f) {
  slimpipe::Hasher h;
  h.update_file(f);
  return h.hex();
}

}  // namespace

TEST(RunLock, SecondHolderIsRefusedWithTheFirstOnesPid) {
  const fs::path dir = testutil::temp_dir("runlock");
  {
    slimpipe::core::RunLock first(dir);
    try {
      slimpipe::core::RunLock second(dir);  // flock conflicts between open files even inside one process
      FAIL() << "a second lock on the same folder was granted";
    } catch (const slimpipe::core::FolderInUse& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(dir.string() + " is in use by process " + std::to_string(::getpid()) + " on host "),
                std::string::npos)
          << msg;
      EXPECT_NE(msg.find("(started 20"), std::string::npos) << msg;
      EXPECT_NE(msg.find("; wait for it or stop it"), std::string::npos) << msg;
    }
  }
  EXPECT_NO_THROW(slimpipe::core::RunLock again(dir));  // released with its holder
}

TEST(RunLock, CompressLeavesTheCompressTomlOfARunInProgress) {
  const fs::path dir = testutil::temp_dir("compress-busy");
  const fs::path out = dir / "out";
  testutil::write_file(out / "compress.toml", "# the running pipeline\n");
  testutil::write_file(dir / "m" / "config.json", "{}");
  const std::string cmd = testutil::cli() +
                          " compress --strategy ptq --task seq_cls --source synthetic --model_name_or_path " +
                          (dir / "m").string() + " --output_dir " + out.string();
  {
    slimpipe::core::RunLock running(out);
    auto r = run_command(cmd);
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(
        r.output.find("slimpipe compress: " + out.string() + " is in use by process " + std::to_string(::getpid())),
        std::string::npos)
        << r.output;
    EXPECT_EQ(testutil::read_file(out / "compress.toml"), "# the running pipeline\n");
    // --plan reads only: it plans the new flags without touching the folder.
    r = run_command(cmd + " --plan");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(testutil::read_file(out / "compress.toml"), "# the running pipeline\n");
  }
  // Free again: the file is replaced whole.
  auto r = run_command(cmd + " --plan");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(testutil::read_file(out / "compress.toml").find("# Written by: slimpipe compress"), std::string::npos);
  fs::remove_all(dir);
}

TEST(RunLock, LockFileIsWrittenOnlyByTheHolder) {
  const fs::path dir = testutil::temp_dir("lockwriter");
  slimpipe::core::LockEntry e;
  e.id = "a";
  e.status = "done";
  slimpipe::core::Lockfile reader(dir);
  reader.load();
  EXPECT_THROW(reader.record(e), slimpipe::Error);
  EXPECT_THROW(reader.commit(), slimpipe::Error);
  EXPECT_FALSE(fs::exists(dir / "pipeline.lock"));
  EXPECT_FALSE(fs::exists(dir / "pipeline.lock.journal"));
  slimpipe::core::RunLock held(dir);
  slimpipe::core::Lockfile writer(dir);
  writer.load();
  writer.hold(held);
  writer.record(e);
  writer.commit();
  slimpipe::core::Lockfile again(dir);
  again.load();
  ASSERT_TRUE(again.find("a"));
  EXPECT_EQ(again.find("a")->status, "done");
}

TEST(RunFolder, SecondRunOnAFolderInUseFailsAtOnceAndTheFirstFinishesAsASoloRun) {
  auto w = make_pipeline("busy", 3, 1500);
  const pid_t first = start_run(w, "first.log");
  ASSERT_GT(first, 0);
  ASSERT_TRUE(wait_for_start(w));
  // Frozen while the others look at the folder, so that what they find is theirs, not the end of the first run;
  // a stopped process keeps its lock.
  ASSERT_EQ(::kill(first, SIGSTOP), 0);

  // "At once": within a second of what merely starting the program costs (LibTorch's libraries take seconds
  // to load on a busy machine), and long before the first run ends.
  auto seconds_of = [](const std::string& cmd, testutil::CommandResult* r) {
    const auto t0 = std::chrono::steady_clock::now();
    *r = run_command(cmd);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  testutil::CommandResult version, second;
  double startup = seconds_of(std::string(SLIMPIPE_CLI) + " --version", &version);
  const double secs = seconds_of(cli_run(w), &second);
  startup = std::max(startup, seconds_of(std::string(SLIMPIPE_CLI) + " --version", &version));  // load varies
  EXPECT_EQ(second.exit_code, 1) << second.output;
  EXPECT_LT(secs, startup + 1.0) << "starting the program alone took " << startup << " s\n" << second.output;
  EXPECT_NE(second.output.find("slimpipe: " + w.out.string() + " is in use by process " + std::to_string(first) +
                               " on host "),
            std::string::npos)
      << second.output;
  EXPECT_NE(second.output.find("wait for it or stop it"), std::string::npos) << second.output;
  // Read-only commands take no lock and keep working meanwhile; nobody but the holder wrote pipeline.lock.
  auto plan = run_command(testutil::cli() + " plan " + w.pipeline.string());
  EXPECT_EQ(plan.exit_code, 0) << plan.output;
  auto verify = run_command(testutil::cli() + " verify " + w.out.string());
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_FALSE(fs::exists(w.out / "pipeline.lock"));
  ASSERT_EQ(::kill(first, SIGCONT), 0);
  int status = 0;
  ::waitpid(first, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << testutil::read_file(w.dir / "first.log");
  auto rec = read_records(w.record);
  ASSERT_EQ(rec.size(), 3u);
  for (const auto& [id, spans] : rec) EXPECT_EQ(spans.size(), 1u) << id << " ran more than once";

  // The same results as a run that was never disturbed.
  auto solo = run_command(cli_run(w, " -q --set pipeline.output_dir=solo"));
  ASSERT_EQ(solo.exit_code, 0) << solo.output;
  for (int x = 0; x < 3; ++x) {
    const std::string cell = "cell/x=" + std::to_string(x);
    EXPECT_EQ(manifest(w.out / cell)["hash"], manifest(w.dir / "solo" / cell)["hash"]) << cell;
  }
  EXPECT_EQ(run_command(testutil::cli() + " verify " + w.out.string()).exit_code, 0);
}

TEST(RunFolder, KilledHolderFreesTheFolderAndOnlyDeadRunsTempFoldersAreRemoved) {
  auto w = make_pipeline("killed", 2, 3000);
  const pid_t first = start_run(w, "first.log");
  ASSERT_TRUE(wait_for_start(w));
  ::kill(first, SIGKILL);
  int status = 0;
  ::waitpid(first, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_TRUE(fs::exists(w.out / ".tmp" / std::to_string(first)));  // what the killed run was writing
  // A temp folder of a live process (another run's, as far as this run can tell) is not this run's to delete.
  const pid_t live = ::fork();
  if (live == 0) {
    ::execl("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  testutil::write_file(w.out / ".tmp" / std::to_string(live) / "cell@x=9" / "out.txt", "busy");

  auto r = run_command(cli_run(w, " -q --set nodes.cell.sleep_ms=10"));
  EXPECT_EQ(r.exit_code, 0) << r.output;  // the kernel released the dead run's lock
  EXPECT_FALSE(fs::exists(w.out / ".tmp" / std::to_string(first)));
  EXPECT_TRUE(fs::exists(w.out / ".tmp" / std::to_string(live) / "cell@x=9" / "out.txt"));
  ::kill(live, SIGKILL);
  ::waitpid(live, &status, 0);
}

TEST(RunFolder, ManifestRecordsEveryFilesSizeAndSha1) {
  auto w = make_pipeline("sha1", 1, 0, "outputs = [\"a\", \"b\"]\n");
  auto r = run_command(cli_run(w));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const fs::path dir = w.out / "cell" / "x=0" / "b";
  const Json m = manifest(dir);
  ASSERT_EQ(m["files"].size(), 1u);
  EXPECT_EQ(m["files"][0]["path"], "out.txt");
  EXPECT_EQ(m["files"][0]["size"], fs::file_size(dir / "out.txt"));
  EXPECT_EQ(m["files"][0]["sha1"], sha1_of(dir / "out.txt"));
  EXPECT_FALSE(fs::exists(dir / "manifest.json.tmp"));
  auto v = run_command(testutil::cli() + " verify " + w.out.string());
  EXPECT_EQ(v.exit_code, 0) << v.output;
  EXPECT_NE(v.output.find("2 artifacts in " + w.out.string() + " checked (sizes and SHA-1s): all intact"),
            std::string::npos)
      << v.output;
}

TEST(RunFolder, TruncatedOrDeletedFileIsDamagedForPlanRunAndVerify) {
  auto w = make_pipeline("damaged", 2, 0);
  ASSERT_EQ(run_command(cli_run(w)).exit_code, 0);
  const fs::path f0 = w.out / "cell/x=0/out.txt", f1 = w.out / "cell/x=1/out.txt";
  const auto size0 = fs::file_size(f0);
  fs::resize_file(f0, 10);
  fs::remove(f1);
  const std::string why0 =
      "damaged: cell/x=0/out.txt is 10 bytes, manifest says " + std::to_string(size0) + "; rebuild";
  const std::string why1 = "damaged: cell/x=1/out.txt is missing; rebuild";

  auto plan = run_command(testutil::cli() + " plan " + w.pipeline.string());
  EXPECT_NE(plan.output.find("will-run  cell@x=0  (" + why0 + ")"), std::string::npos) << plan.output;
  EXPECT_NE(plan.output.find("will-run  cell@x=1  (" + why1 + ")"), std::string::npos) << plan.output;
  EXPECT_NE(plan.output.find("2 to run, 0 cached"), std::string::npos) << plan.output;

  auto v = run_command(testutil::cli() + " verify " + w.out.string() + " --quick");
  EXPECT_EQ(v.exit_code, 1) << v.output;
  EXPECT_NE(v.output.find("damaged: cell@x=0 (cell/x=0): out.txt is 10 bytes, manifest says " + std::to_string(size0)),
            std::string::npos)
      << v.output;
  EXPECT_NE(v.output.find("damaged: cell@x=1 (cell/x=1): out.txt is missing"), std::string::npos) << v.output;
  EXPECT_NE(v.output.find("2 of 2 artifacts in " + w.out.string() + " damaged (sizes)"), std::string::npos) << v.output;

  // run rebuilds them, for the reason plan gave.
  auto r = run_command(cli_run(w, ""));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("[cell@x=0] running: " + why0), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("[cell@x=1] running: " + why1), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("2 ran, 0 cached"), std::string::npos) << r.output;
  EXPECT_EQ(run_command(testutil::cli() + " verify " + w.out.string()).exit_code, 0);

  // Same size, other bytes: stat cannot tell, the SHA-1 can.
  std::string text = testutil::read_file(f0);
  text[0] = text[0] == 'A' ? 'B' : 'A';
  testutil::write_file(f0, text);
  EXPECT_EQ(run_command(testutil::cli() + " verify " + w.out.string() + " --quick").exit_code, 0);
  auto full = run_command(testutil::cli() + " verify " + w.out.string());
  EXPECT_EQ(full.exit_code, 1) << full.output;
  EXPECT_NE(full.output.find("damaged: cell@x=0 (cell/x=0): out.txt does not match its SHA-1 in the manifest"),
            std::string::npos)
      << full.output;
  EXPECT_NE(full.output.find("1 of 2 artifacts"), std::string::npos) << full.output;
}

TEST(RunFolder, EmptyOrCorruptManifestIsAbsentAndPlanAndRunAgree) {
  auto w = make_pipeline("badmanifest", 3, 0);
  ASSERT_EQ(run_command(cli_run(w)).exit_code, 0);
  testutil::write_file(w.out / "cell/x=0/manifest.json", "");
  testutil::write_file(w.out / "cell/x=1/manifest.json", "{\"id\": \"cell@x=1\", \"files\": [");
  testutil::write_file(w.out / "cell/x=2/manifest.json", "[1, 2]");
  const std::string why0 = "output cell/x=0 is missing (manifest.json is empty)";
  const std::string why1 = "output cell/x=1 is missing (manifest.json is not valid JSON";
  const std::string why2 = "output cell/x=2 is missing (manifest.json is not a JSON object)";

  auto plan = run_command(testutil::cli() + " plan " + w.pipeline.string());
  EXPECT_NE(plan.output.find("will-run  cell@x=0  (" + why0 + ")"), std::string::npos) << plan.output;
  EXPECT_NE(plan.output.find("will-run  cell@x=1  (" + why1), std::string::npos) << plan.output;
  EXPECT_NE(plan.output.find("will-run  cell@x=2  (" + why2 + ")"), std::string::npos) << plan.output;
  auto v = run_command(testutil::cli() + " verify " + w.out.string());
  EXPECT_EQ(v.exit_code, 1) << v.output;
  EXPECT_NE(v.output.find("damaged: cell/x=0: manifest.json is empty"), std::string::npos) << v.output;

  auto r = run_command(cli_run(w, ""));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("[cell@x=0] running: " + why0), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("[cell@x=1] running: " + why1), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("[cell@x=2] running: " + why2), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("3 ran, 0 cached"), std::string::npos) << r.output;
}

TEST(RunFolder, EmptyLockFileAndTornJournalLinesAreNeverFinishedWork) {
  auto w = make_pipeline("emptylock", 2, 0);
  ASSERT_EQ(run_command(cli_run(w)).exit_code, 0);
  const Json lock = Json::parse(testutil::read_file(w.out / "pipeline.lock"));
  ASSERT_EQ(lock["instances"].size(), 2u);

  testutil::write_file(w.out / "pipeline.lock", "");
  testutil::write_file(w.out / "pipeline.lock.journal", "");  // as a full disk left them: nothing finished
  auto plan = run_command(testutil::cli() + " plan " + w.pipeline.string());
  EXPECT_EQ(plan.exit_code, 0) << plan.output;
  EXPECT_NE(plan.output.find("slimpipe: warning: " + (w.out / "pipeline.lock").string() + " is empty"),
            std::string::npos)
      << plan.output;
  EXPECT_NE(plan.output.find("2 to run, 0 cached"), std::string::npos) << plan.output;

  // A journal whose last line lost its end (a kill or a full disk mid-append), even though what is left
  // happens to be JSON: only the whole line counts.
  testutil::write_file(w.out / "pipeline.lock.journal",
                       lock["instances"][0].dump() + "\n" + lock["instances"][1].dump());
  plan = run_command(testutil::cli() + " plan " + w.pipeline.string());
  EXPECT_NE(plan.output.find("ignored 1 torn line(s)"), std::string::npos) << plan.output;
  EXPECT_NE(plan.output.find("cached    cell@x=0"), std::string::npos) << plan.output;
  EXPECT_NE(plan.output.find("will-run  cell@x=1  (never built)"), std::string::npos) << plan.output;
  auto r = run_command(cli_run(w));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("1 ran, 1 cached"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(w.out / "pipeline.lock.journal"));
  EXPECT_EQ(Json::parse(testutil::read_file(w.out / "pipeline.lock"))["instances"].size(), 2u);
}

// The pipeline's [model] folder with an empty manifest.json (a copy that did not complete): plan and run
// agree that it is an input identified by its files, rather than plan listing it and run failing on it.
TEST(RunFolder, InputModelWithAnEmptyManifestIsIdentifiedByItsFilesInPlanAndRun) {
  auto w = make_pipeline("emptymodelmanifest", 1, 0);
  testutil::write_file(w.dir / "model" / "manifest.json", "");
  auto plan = run_command(testutil::cli() + " plan " + w.pipeline.string());
  EXPECT_EQ(plan.exit_code, 0) << plan.output;
  EXPECT_NE(plan.output.find("input     model  (input model"), std::string::npos) << plan.output;
  auto r = run_command(cli_run(w));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("1 ran, 0 cached"), std::string::npos) << r.output;
}

// A full disk, simulated with a file size limit (every write past it fails with EFBIG, as ENOSPC would):
// each instance fails with one line naming the file, nothing half-written is moved into place, the process
// exits normally, and a rerun with room finishes.
TEST(RunFolder, FullDiskFailsInstancesNotTheProcessAndNothingHalfWrittenIsKept) {
  auto w = make_pipeline("full", 2, 0, "payload = \"" + std::string(5000, 'p') + "\"\n");
  auto r = run_command("bash -c \"trap '' XFSZ; ulimit -f 2; exec " + cli_run(w) + "\"");
  EXPECT_EQ(r.exit_code, 1) << r.output;  // not a signal, not std::terminate
  EXPECT_NE(r.output.find("manifest.json: cannot write: File too large"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("0 ran, 0 cached, 2 failed"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(w.out / "cell" / "x=0")) << "a folder was renamed into place without its manifest";
  EXPECT_FALSE(fs::exists(w.out / "cell" / "x=1"));
  auto plan = run_command(testutil::cli() + " plan " + w.pipeline.string());
  EXPECT_NE(plan.output.find("2 to run, 0 cached"), std::string::npos) << plan.output;

  auto again = run_command(cli_run(w));
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("2 ran, 0 cached"), std::string::npos) << again.output;
  auto v = run_command(testutil::cli() + " verify " + w.out.string());
  EXPECT_EQ(v.exit_code, 0) << v.output;
}

// rank links its best candidate into its own folder: a candidate whose file no longer matches its manifest
// (here truncated to 1000 bytes) is an error naming the file, never "the best model".
TEST(RunFolder, RankRefusesToPublishACandidateThatDoesNotMatchItsManifest) {
  const fs::path dir = testutil::temp_dir("rankcheck");
  const fs::path model = dir / "model";
  testutil::write_file(model / "config.json", "{}");
  testutil::write_file(model / "model.safetensors", std::string(5000, 'w'));
  const Json m = {
      {"id", "model"},
      {"kind", "model"},
      {"primary_metric", "accuracy"},
      {"metrics", {{"accuracy", 90.0}}},
      {"hash", "0123456789abcdef0123456789abcdef01234567"},
      {"files",
       Json::array({{{"path", "model.safetensors"}, {"size", 5000}, {"sha1", sha1_of(model / "model.safetensors")}}})}};
  testutil::write_file(model / "manifest.json", m.dump(2));
  const fs::path pipeline = dir / "p.toml";
  testutil::write_file(pipeline,
                       "[pipeline]\noutput_dir = \"out\"\n[model]\npath = \"model\"\n"
                       "[nodes.rank]\ntype = \"rank\"\ninputs = [\"model\"]\ncollect = true\nbench = false\n");
  auto ok = run_command(testutil::cli() + " run " + pipeline.string() + " -q");
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_EQ(fs::file_size(dir / "out" / "rank" / "model.safetensors"), 5000u);

  // Written anew (not truncated in place, which a hard-linked copy in rank/ would share).
  fs::remove(model / "model.safetensors");
  testutil::write_file(model / "model.safetensors", std::string(1000, 'w'));
  auto bad = run_command(testutil::cli() + " run " + pipeline.string() + " -q --force rank");
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_NE(bad.output.find("rank: will not publish model: " + (model / "model.safetensors").string() +
                            " is 1000 bytes, manifest says 5000"),
            std::string::npos)
      << bad.output;
  EXPECT_EQ(fs::file_size(dir / "out" / "rank" / "model.safetensors"), 5000u);  // the earlier result stays
}
