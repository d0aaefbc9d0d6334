// Bad inputs to the host: broken plugin folders, keys nested past the limits, out-of-range max_parallel,
// usage errors and their exit status (2: the command line or pipeline is wrong and nothing ran; 1: something
// failed while running), folders where files are expected, huge quoted text, and CUDA on a CPU-only build.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "slimpipe/core/pipeline_spec.hpp"
#include "slimpipe/core/plugin_registry.hpp"
#include "slimpipe/cuda.hpp"
#include "slimpipe/data/text_file.hpp"
#include "slimpipe/error.hpp"
#include "test_util.hpp"

using namespace slimpipe::core;
namespace fs = std::filesystem;

namespace {

const char* kNode = "[nodes.q]\ntype = \"sleep_record\"\ninputs = []\n";

std::vector<Diagnostic> diagnose(const std::string& toml, const std::vector<std::string>& sets = {}) {
  try {
    parse_pipeline(toml, "bad.toml", sets, testutil::test_registry());
  } catch (const SpecError& e) {
    return e.diagnostics();
  }
  return {};
}

std::string joined(const std::vector<Diagnostic>& d) {
  std::string out;
  for (const auto& x : d) out += x.str() + "\n";
  return out.empty() ? "no error" : out;
}

// The message of the slimpipe::UsageError `fn` throws; fails the test for any other outcome.
template <typename Fn>
std::string usage_error_of(Fn fn) {
  try {
    fn();
  } catch (const slimpipe::UsageError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a UsageError: " << e.what();
    return "";
  }
  ADD_FAILURE() << "no error";
  return "";
}

std::string dotted(const std::string& part, int n) {
  std::string s = part;
  for (int i = 1; i < n; ++i) s += "." + part;
  return s;
}

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

}  // namespace

// ---- plugin folders ----

TEST(PluginFolderMisuse, SymlinkLoopIsSkippedWithOneWarningNamingIt) {
  const fs::path dir = testutil::temp_dir("plugin-loop");
  fs::create_symlink(fs::path(SLIMPIPE_TEST_PLUGIN_DIR) / "libslimpipe_test_sleep_record.so",
                     dir / "libslimpipe_test_sleep_record.so");
  fs::create_symlink(dir / "libloop_b.so", dir / "libloop_a.so");
  fs::create_symlink(dir / "libloop_a.so", dir / "libloop_b.so");
  PluginRegistry reg;
  ASSERT_NO_THROW(reg.scan({dir}));
  EXPECT_NE(reg.find("sleep_record"), nullptr) << "the good plugin next to the loop still loads";
  ASSERT_EQ(reg.problems().size(), 2u);
  EXPECT_EQ(reg.problems()[0].message,
            (dir / "libloop_a.so").string() + ": symbolic link loop in the plugin folder; skipped");
  EXPECT_EQ(reg.problems()[1].message,
            (dir / "libloop_b.so").string() + ": symbolic link loop in the plugin folder; skipped");

  // Every command still works; each loop is one warning.
  testutil::write_file(dir / "p.toml", std::string("[pipeline]\noutput_dir = \"out\"\n") + kNode);
  auto r = testutil::run_command(std::string(SLIMPIPE_CLI) + " validate " + quoted(dir / "p.toml") + " --plugin-path " +
                                 quoted(dir));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("slimpipe: warning: " + (dir / "libloop_a.so").string() + ": symbolic link loop"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("Too many levels of symbolic links"), std::string::npos) << r.output;
  fs::remove_all(dir);
}

TEST(PluginFolderMisuse, DanglingSymlinkIsSkippedWithAWarningNamingIt) {
  const fs::path dir = testutil::temp_dir("plugin-dangling");
  fs::create_symlink(dir / "gone.so", dir / "libgone.so");
  PluginRegistry reg;
  ASSERT_NO_THROW(reg.scan({dir}));
  ASSERT_EQ(reg.problems().size(), 1u);
  EXPECT_EQ(reg.problems()[0].message, (dir / "libgone.so").string() + ": dangling symbolic link to " +
                                           (dir / "gone.so").string() + " in the plugin folder; skipped");
  fs::remove_all(dir);
}

TEST(PluginFolderMisuse, RandomBytesAndEmptyLibrariesAreNotLoadableSharedLibraries) {
  const fs::path dir = testutil::temp_dir("plugin-junk");
  std::string junk(4096, '\0');
  std::mt19937 rng(7);
  for (auto& ch : junk) ch = static_cast<char>(rng());
  testutil::write_file(dir / "libjunk.so", junk);
  testutil::write_file(dir / "libempty.so", "");
  for (const char* name : {"libjunk.so", "libempty.so"}) {
    const fs::path f = dir / name;
    try {
      PluginRegistry::load(f);
      ADD_FAILURE() << "loaded " << f;
    } catch (const slimpipe::Error& e) {
      const std::string m = e.what();
      EXPECT_EQ(m.rfind(f.string() + ": not a loadable shared library (", 0), 0u) << m;
      EXPECT_EQ(m.back(), ')') << m;
      EXPECT_EQ(m.find("Bad file descriptor"), std::string::npos) << m;
      EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    }
  }
  PluginRegistry reg;
  reg.scan({dir});
  EXPECT_EQ(reg.problems().size(), 2u);
  fs::remove_all(dir);
}

TEST(PluginFolderMisuse, AQueryFunctionThatThrowsIsRefusedNamingTheFile) {
  const fs::path f = fs::path(SLIMPIPE_TEST_BAD_PLUGIN_DIR) / "libslimpipe_test_throwing_query.so";
  try {
    PluginRegistry::load(f);
    FAIL() << "loaded a plugin whose query throws";
  } catch (const slimpipe::Error& e) {
    EXPECT_EQ(std::string(e.what()),
              f.string() + ": the plugin's slimpipe_plugin_query threw an exception: boom from the query");
  }
  PluginRegistry reg;
  reg.scan({SLIMPIPE_TEST_BAD_PLUGIN_DIR});
  bool named = false;
  for (const auto& p : reg.problems()) named = named || p.message.rfind(f.string() + ": ", 0) == 0;
  EXPECT_TRUE(named);
}

// ---- nesting limits ----

TEST(NestingLimits, TableHeaderWithTenThousandPartsIsOneErrorNamingLineAndKey) {
  for (int parts : {10000, 100000}) {  // 100k parts crash TOML++ 3.3's own parser
    auto d = diagnose(std::string(kNode) + "\n[" + dotted("a", parts) + "]\nx = 1\n");
    ASSERT_EQ(d.size(), 1u) << joined(d);
    EXPECT_EQ(d[0].pos.line, 5);
    EXPECT_EQ(d[0].pos.col, 2);
    EXPECT_NE(d[0].message.find("key 'a.a.a.a"), std::string::npos) << d[0].message;
    EXPECT_NE(d[0].message.find("\u2026' has " + std::to_string(parts) +
                                " parts; keys and table headers may have at most 64"),
              std::string::npos)
        << d[0].message;
    EXPECT_LT(d[0].str().size(), 300u);
  }
}

TEST(NestingLimits, DottedKeyWithTenThousandPartsIsOneError) {
  for (int parts : {10000, 100000}) {
    auto d = diagnose(std::string(kNode) + dotted("k", parts) + " = 1\n");
    ASSERT_EQ(d.size(), 1u) << joined(d);
    EXPECT_EQ(d[0].pos.line, 4);
    EXPECT_NE(d[0].message.find("has " + std::to_string(parts) + " parts"), std::string::npos) << d[0].message;
  }
  // Inside an inline table too.
  auto d = diagnose(std::string(kNode) + "x = { " + dotted("k", 70) + " = 1 }\n");
  ASSERT_EQ(d.size(), 1u) << joined(d);
  EXPECT_NE(d[0].message.find("has 70 parts"), std::string::npos) << d[0].message;
}

TEST(NestingLimits, SixtyFourPartsAreAllowedAndDotsInStringsAndFloatsAreNotKeys) {
  auto d = diagnose(dotted("k", 64) + " = 1\n" + kNode + "x = 1.5\nrecord = \"" + dotted("b", 500) +
                    "\"\npayload = '''\n" + dotted("c", 500) + " = 1\n'''\n# " + dotted("d", 500) + "\n");
  ASSERT_EQ(d.size(), 1u) << joined(d);
  EXPECT_EQ(d[0].str(), "bad.toml:1:1: unknown key 'k' in the pipeline file");
}

TEST(NestingLimits, HeaderAndDottedKeyTogetherDeeperThanTheLimit) {
  auto d = diagnose(std::string(kNode) + "[" + dotted("a", 40) + "]\n" + dotted("b", 40) + " = 1\n");
  ASSERT_EQ(d.size(), 1u) << joined(d);
  EXPECT_EQ(d[0].pos.line, 5);
  EXPECT_NE(d[0].message.find("is nested more than 64 levels deep; tables and arrays may nest at most 64 levels"),
            std::string::npos)
      << d[0].message;
  EXPECT_EQ(d[0].message.rfind("'a.a.a.a", 0), 0u) << d[0].message;
}

TEST(NestingLimits, InlineTablesAndArraysNestedPastTheLimit) {
  std::string v = "1";
  for (int i = 0; i < 100; ++i) v = "{ a = " + v + " }";
  auto d = diagnose(std::string(kNode) + "deep = " + v + "\n");
  ASSERT_EQ(d.size(), 1u) << joined(d);
  EXPECT_NE(d[0].message.find("is nested more than 64 levels deep"), std::string::npos) << d[0].message;
  std::string arr = "1";
  for (int i = 0; i < 100; ++i) arr = "[" + arr + "]";
  d = diagnose(std::string(kNode) + "deep = " + arr + "\n");
  ASSERT_EQ(d.size(), 1u) << joined(d);
  EXPECT_NE(d[0].message.find("'nodes.q.deep[0][0]"), std::string::npos) << d[0].message;
}

TEST(NestingLimits, SetKeyWithTwentyThousandPartsIsAUsageError) {
  const std::string key = dotted("a", 20000);
  const std::string m =
      usage_error_of([&] { parse_pipeline(kNode, "p.toml", {key + "=1"}, testutil::test_registry()); });
  EXPECT_EQ(m.rfind("--set a.a.a.a", 0), 0u) << m;
  EXPECT_NE(m.find("\u2026: the key has 20000 parts; at most 64 are allowed"), std::string::npos) << m;
  EXPECT_LT(m.size(), 300u);
  // 64 parts are fine as far as the key goes (the pipeline then has an unknown top-level key).
  auto d = diagnose(kNode, {dotted("a", 64) + "=1"});
  ASSERT_EQ(d.size(), 1u) << joined(d);
  EXPECT_NE(d[0].message.find("unknown key 'a'"), std::string::npos) << d[0].str();
  // A --set value with a huge dotted inline key.
  const std::string v = usage_error_of([&] {
    parse_pipeline(kNode, "p.toml", {"nodes.q.x={" + dotted("k", 100000) + "=1}"}, testutil::test_registry());
  });
  EXPECT_NE(v.find("--set nodes.q.x: the value's key 'k.k.k"), std::string::npos) << v;
}

TEST(NestingLimits, CliRefusesDeepKeysWithExitStatus2) {
  const fs::path dir = testutil::temp_dir("deep-cli");
  testutil::write_file(dir / "p.toml",
                       std::string("[pipeline]\noutput_dir = \"out\"\n") + kNode + "[" + dotted("a", 10000) + "]\n");
  auto r = testutil::run_command(testutil::cli() + " validate " + quoted(dir / "p.toml"));
  EXPECT_EQ(r.exit_code, 2) << r.output.substr(0, 2000);
  EXPECT_NE(r.output.find((dir / "p.toml").string() + ":6:2: key 'a.a.a"), std::string::npos)
      << r.output.substr(0, 2000);
  EXPECT_LT(r.output.size(), 1000u);
  testutil::write_file(dir / "ok.toml", std::string("[pipeline]\noutput_dir = \"out\"\n") + kNode);
  r = testutil::run_command(testutil::cli() + " validate " + quoted(dir / "ok.toml") + " --set " + dotted("b", 20000) +
                            "=1");
  EXPECT_EQ(r.exit_code, 2) << r.output.substr(0, 2000);
  EXPECT_NE(r.output.find("the key has 20000 parts; at most 64 are allowed"), std::string::npos)
      << r.output.substr(0, 2000);
  fs::remove_all(dir);
}

// `run` reads the output folder from the file before loading plugins (to take the folder's lock): that early read
// must refuse an overlong key as load_pipeline does, not hand it to TOML++ (100k parts overflowed its stack).
TEST(NestingLimits, RunRefusesAHundredThousandPartKeyBeforeParsingIt) {
  const fs::path dir = testutil::temp_dir("deep-run");
  fs::create_directories(dir / "out");
  testutil::write_file(dir / "p.toml",
                       std::string("[pipeline]\noutput_dir = \"out\"\n") + kNode + "[" + dotted("a", 100000) + "]\n");
  for (const char* cmd : {" run ", " plan "}) {
    auto r = testutil::run_command(testutil::cli() + cmd + quoted(dir / "p.toml"));
    EXPECT_EQ(r.exit_code, 2) << cmd << r.output.substr(0, 2000);
    EXPECT_NE(r.output.find("has 100000 parts; keys and table headers may have at most 64"), std::string::npos)
        << cmd << r.output.substr(0, 2000);
  }
  fs::remove_all(dir);
}

// ---- max_parallel ----

TEST(MaxParallelBounds, PipelineFileAcceptsOneTo256) {
  for (const std::string v : {"0", "257", "100000", "99999999999", "-1"}) {
    auto d = diagnose(std::string("[pipeline]\nmax_parallel = ") + v + "\n" + kNode);
    ASSERT_EQ(d.size(), 1u) << v << ": " << joined(d);
    EXPECT_EQ(d[0].str(), "bad.toml:2:16: pipeline.max_parallel must be between 1 and 256, got " + v);
  }
  for (const std::string v : {"1", "256"})
    EXPECT_TRUE(diagnose(std::string("[pipeline]\nmax_parallel = ") + v + "\n" + kNode).empty());
  auto d = diagnose(std::string("[pipeline]\nthreads_per_instance = 99999999999\n") + kNode);
  ASSERT_EQ(d.size(), 1u) << joined(d);
  EXPECT_EQ(d[0].message, "pipeline.threads_per_instance must be between 0 and 1024, got 99999999999");
}

TEST(MaxParallelBounds, CommandLineAcceptsOneTo256WithExitStatus2) {
  const fs::path dir = testutil::temp_dir("max-parallel");
  testutil::write_file(dir / "p.toml", std::string("[pipeline]\noutput_dir = \"out\"\n") + kNode);
  for (const std::string v : {"0", "-1", "257", "100000"}) {
    auto r = testutil::run_command(testutil::cli() + " run " + quoted(dir / "p.toml") + " --max-parallel " + v);
    EXPECT_EQ(r.exit_code, 2) << v << ": " << r.output;
    EXPECT_NE(r.output.find("slimpipe run: --max-parallel must be between 1 and 256, got " + v), std::string::npos)
        << r.output;
  }
  EXPECT_FALSE(fs::exists(dir / "out")) << "nothing ran";
  auto r = testutil::run_command(testutil::cli() + " run " + quoted(dir / "p.toml") + " --max-parallel 99999999999");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = testutil::run_command(testutil::cli() + " plan " + quoted(dir / "p.toml") + " --max-parallel 256");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const std::string v : {"0", "-1", "100000", "two"}) {
    r = testutil::run_command(testutil::cli() +
                              " compress --strategy ptq --task qa --model_name_or_path m --output_dir " +
                              quoted(dir / "c") + " --max_parallel " + v + " --emit-toml");
    EXPECT_EQ(r.exit_code, 2) << v << ": " << r.output;
    EXPECT_NE(
        r.output.find("slimpipe compress: --max_parallel: expected an integer between 1 and 256, got '" + v + "'"),
        std::string::npos)
        << r.output;
  }
  fs::remove_all(dir);
}

// ---- exit status: 2 for usage errors, 1 for failures while running ----

TEST(ExitStatus, SetWithoutEqualsIsAUsageError) {
  const fs::path dir = testutil::temp_dir("set-no-eq");
  testutil::write_file(dir / "p.toml", std::string("[pipeline]\noutput_dir = \"out\"\n") + kNode);
  auto r = testutil::run_command(testutil::cli() + " validate " + quoted(dir / "p.toml") + " --set pipeline.seed");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(
      r.output.find("slimpipe: --set pipeline.seed: expected key.path=value, e.g. --set pipeline.output_dir=runs/x"),
      std::string::npos)
      << r.output;
  r = testutil::run_command(testutil::cli() + " validate " + quoted(dir / "p.toml") + " --set pipeline..seed=1");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("empty component in key path 'pipeline..seed'"), std::string::npos) << r.output;
  r = testutil::run_command(testutil::cli() + " validate " + quoted(dir / "p.toml") +
                            " --set pipeline.seed=1 --set pipeline.seed.x=1");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("slimpipe: --set pipeline.seed.x: 'seed' is not a table"), std::string::npos) << r.output;
  fs::remove_all(dir);
}

TEST(ExitStatus, UnknownInstanceSelectorIsAUsageError) {
  const fs::path dir = testutil::temp_dir("force-nosuch");
  testutil::write_file(dir / "p.toml", std::string("[pipeline]\noutput_dir = \"out\"\n") + kNode);
  for (const std::string flag : {"--force", "--only", "--from"}) {
    auto r = testutil::run_command(testutil::cli() + " run " + quoted(dir / "p.toml") + " " + flag + " nosuch");
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("slimpipe: " + flag + " nosuch: no such instance or node; `slimpipe plan` lists them"),
              std::string::npos)
        << r.output;
  }
  auto r = testutil::run_command(testutil::cli() + " plan " + quoted(dir / "p.toml") + " --force qq");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--force qq: no such instance or node (did you mean 'q'?)"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "out")) << "nothing ran";
  fs::remove_all(dir);
}

TEST(ExitStatus, TaskParameterCheckIsAUsageErrorAndAFailedInstanceIsNot) {
  const fs::path dir = testutil::temp_dir("exit-task");
  // qa's doc_stride must fit the window max_seq_length - max_query_length - 3 = 128 - 64 - 3.
  testutil::write_file(dir / "qa.toml", std::string("[pipeline]\noutput_dir = \"out\"\n[task]\ntype = \"qa\"\n"
                                                    "source = \"synthetic\"\ndoc_stride = 128\n") +
                                            kNode);
  auto r = testutil::run_command(testutil::cli() + " run " + quoted(dir / "qa.toml"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("slimpipe: [task] qa: doc_stride 128 must be smaller than the context window"),
            std::string::npos)
      << r.output;
  // A node that fails while running: status 1.
  testutil::write_file(dir / "fail.toml",
                       "[pipeline]\noutput_dir = \"out2\"\n[nodes.q]\ntype = \"sleep_record\"\n"
                       "inputs = []\nx = 1\nfail_on = [1]\n");
  r = testutil::run_command(testutil::cli() + " run " + quoted(dir / "fail.toml"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  fs::remove_all(dir);
}

TEST(ExitStatus, BenchOptionChecksAreUsageErrors) {
  auto r = testutil::run_command(std::string(SLIMPIPE_CLI) + " bench --model /nonexistent --batch 0");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("slimpipe: bench: batch sizes must be > 0, got 0"), std::string::npos) << r.output;
  r = testutil::run_command(std::string(SLIMPIPE_CLI) + " bench --model /nonexistent --kernels fast");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("slimpipe: bench: --kernels fast, expected own or onednn"), std::string::npos) << r.output;
}

// ---- a folder where a file is expected ----

TEST(FolderForFile, PipelinePathThatIsAFolder) {
  const fs::path dir = testutil::temp_dir("pipeline-dir");
  for (const std::string cmd : {"validate", "run", "plan"}) {
    auto r = testutil::run_command(testutil::cli() + " " + cmd + " " + quoted(dir));
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("slimpipe: " + dir.string() + ": is a directory, expected a file"), std::string::npos)
        << r.output;
    EXPECT_EQ(r.output.find("empty"), std::string::npos) << r.output;
  }
  auto r = testutil::run_command(testutil::cli() + " validate " + quoted(dir / "missing.toml"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find((dir / "missing.toml").string() + ": cannot open pipeline file (No such file or directory)"),
            std::string::npos)
      << r.output;
  fs::remove_all(dir);
}

// ---- huge quoted text ----

TEST(LongLines, QuotedKeysAndValuesAreClippedTo200Bytes) {
  const std::string big(5 << 20, 'k');
  auto d = diagnose(std::string(kNode) + big + " = 1\n");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].message.rfind("unknown key '" + std::string(200, 'k') + "\u2026' in [nodes.q]", 0), 0u)
      << d[0].message.substr(0, 400);
  EXPECT_LT(d[0].str().size(), 400u);
  d = diagnose(std::string("[pipeline]\ndevice = \"") + big + "\"\n" + kNode);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_LT(d[0].str().size(), 400u) << d[0].str().substr(0, 400);
  d = diagnose(std::string(kNode) + "mode = \"" + big + "\"\n");  // a value outside the allowed list
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].str(), "bad.toml:4:8: parameter 'mode' of [nodes.q]: value \"" + std::string(199, 'k') +
                            "\u2026 is not one of \"normal\", \"fast\"");
  d = diagnose(kNode, {"nodes.q." + big + "=[1, {a = 1}]"});  // a huge --set key: the value's source names it
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].str().rfind("--set: unknown key '" + std::string(200, 'k') + "\u2026' in [nodes.q]", 0), 0u)
      << d[0].str().substr(0, 600);
  EXPECT_LT(d[0].str().size(), 600u);
  d = diagnose(kNode, {"nodes.q.x." + big + "=\"${SLIMPIPE_TEST_SURELY_UNSET}\""});
  ASSERT_FALSE(d.empty());
  EXPECT_EQ(d[0].pos.file, "--set nodes.q.x." + std::string(70, 'k') + "\u2026") << d[0].str().substr(0, 600);
  const std::string m =
      usage_error_of([&] { parse_pipeline(kNode, "p.toml", {"pipeline." + big}, testutil::test_registry()); });
  EXPECT_LT(m.size(), 400u);
  EXPECT_NE(m.find("\u2026: expected key.path=value"), std::string::npos) << m.substr(0, 400);
}

TEST(LongLines, NodeIdsAreAtMost128Bytes) {
  auto d = diagnose("[nodes." + std::string(5 << 20, 'n') + "]\ntype = \"sleep_record\"\ninputs = []\n");
  ASSERT_EQ(d.size(), 1u) << joined(d).substr(0, 600);
  EXPECT_EQ(d[0].str(), "bad.toml:1:8: node id '" + std::string(80, 'n') + "\u2026' is " + std::to_string(5 << 20) +
                            " bytes long; at most 128 are allowed");
  EXPECT_TRUE(diagnose("[nodes." + std::string(128, 'n') + "]\ntype = \"sleep_record\"\ninputs = []\n").empty());
}

TEST(LongLines, ClipCutsAtACharacterBoundary) {
  // 199 ASCII bytes, then a 3-byte character straddling byte 200: it goes whole or not at all.
  const std::string s = std::string(199, 'a') + "\u20ac" + std::string(10, 'b');
  const std::string c = slimpipe::data::clip_for_message(s);
  EXPECT_EQ(c, std::string(199, 'a') + "\u2026");
  EXPECT_EQ(slimpipe::data::clip_for_message("short"), "short");
}

// ---- CUDA on a CPU-only build ----

TEST(DeviceCheck, CudaIsRejectedAtValidateWhenThisBuildHasNone) {
  auto d = diagnose(std::string("[pipeline]\ndevice = \"cuda\"\n") + kNode);
  if (slimpipe::cuda_available()) {
    EXPECT_TRUE(d.empty()) << joined(d);
    GTEST_SKIP() << "a GPU is visible";
  }
  ASSERT_EQ(d.size(), 1u) << joined(d);
  EXPECT_EQ(d[0].pos.line, 2);
  if (!slimpipe::cuda_built())
    EXPECT_EQ(d[0].message,
              "pipeline.device = \"cuda\": this build of slimpipe has no CUDA (LibTorch CPU only); use \"cpu\"");
  else
    EXPECT_EQ(d[0].message, "pipeline.device = \"cuda\": no CUDA device is visible; use \"cpu\"");
  d = diagnose(std::string("[pipeline]\ndevice = \"cuda:1\"\n") + kNode);
  EXPECT_EQ(d.size(), 1u) << joined(d);
  EXPECT_TRUE(diagnose(std::string("[pipeline]\ndevice = \"cpu\"\n") + kNode).empty());
}
