// Malformed pipelines: every problem is reported in one pass with file:line:col, before anything runs.
#include <gtest/gtest.h>

#include "slimpipe/core/pipeline_spec.hpp"
#include "test_util.hpp"

using namespace slimpipe::core;

namespace {

std::vector<Diagnostic> diagnose(const std::string& toml, const std::vector<std::string>& sets = {}) {
  try {
    parse_pipeline(toml, "bad.toml", sets, testutil::test_registry());
  } catch (const SpecError& e) {
    return e.diagnostics();
  }
  return {};
}

// Exactly one diagnostic, at the given line and column, containing `needle`.
void expect_one(const std::string& toml, int line, int col, const std::string& needle) {
  auto d = diagnose(toml);
  ASSERT_EQ(d.size(), 1u) << (d.empty() ? std::string("no error")
                                        : d[0].str() + (d.size() > 1 ? "\n" + d[1].str() : ""));
  EXPECT_EQ(d[0].pos.file, "bad.toml");
  EXPECT_EQ(d[0].pos.line, line) << d[0].str();
  EXPECT_EQ(d[0].pos.col, col) << d[0].str();
  EXPECT_NE(d[0].message.find(needle), std::string::npos) << d[0].str();
  EXPECT_EQ(d[0].str().rfind("bad.toml:" + std::to_string(line) + ":" + std::to_string(col) + ": ", 0), 0u);
}

const char* kModel = "[model]\npath = \"m\"\n";

}  // namespace

TEST(PipelineValidation, TomlSyntaxErrorHasPosition) {
  expect_one("[pipeline]\nname = \"x\"\nmax_parallel = = 2\n", 3, 16, "TOML syntax error");
}

TEST(PipelineValidation, UnknownKeySuggestsTheClosestOne) {
  expect_one(
      std::string(kModel) + "[nodes.q]\ntype = \"sleep_record\"\ninputs = [\"model\"]\nsleep_msx = 3\n", 6, 1,
      "unknown key 'sleep_msx' in [nodes.q] (plugin 'sleep_record' has no such parameter) (did you mean 'sleep_ms'?)");
}

TEST(PipelineValidation, UnknownPipelineKey) {
  expect_one(std::string("[pipeline]\nmax_paralel = 2\n") + kModel +
                 "[nodes.q]\ntype = \"sleep_record\"\ninputs = [\"model\"]\n",
             2, 1, "did you mean 'max_parallel'?");
}

TEST(PipelineValidation, WrongTypeOfParameter) {
  expect_one(std::string(kModel) + "[nodes.q]\ntype = \"sleep_record\"\ninputs = [\"model\"]\nsleep_ms = \"ten\"\n", 6,
             12, "parameter 'sleep_ms' of [nodes.q]: expected int, got string");
}

TEST(PipelineValidation, WrongTypeOfPipelineSetting) {
  expect_one(std::string("[pipeline]\nmax_parallel = \"two\"\n") + kModel +
                 "[nodes.q]\ntype = \"sleep_record\"\ninputs = [\"model\"]\n",
             2, 16, "pipeline.max_parallel must be an integer, got string");
}

TEST(PipelineValidation, UnknownPlugin) {
  expect_one(std::string(kModel) + "[nodes.q]\ntype = \"sleep_recrd\"\ninputs = [\"model\"]\n", 4, 8,
             "unknown plugin 'sleep_recrd' in [nodes.q] (did you mean 'sleep_record'?)");
}

TEST(PipelineValidation, DuplicateNodeId) {
  expect_one(std::string(kModel) +
                 "[nodes.q]\ntype = \"sleep_record\"\ninputs = [\"model\"]\n[nodes.q]\ntype = \"sleep_record\"\n",
             6, 1, "TOML syntax error");
}

TEST(PipelineValidation, MissingInput) {
  expect_one(std::string(kModel) +
                 "[nodes.q]\ntype = \"sleep_record\"\ninputs = [\"prnue\"]\n[nodes.prune]\ntype = "
                 "\"sleep_record\"\ninputs = [\"model\"]\n",
             5, 11, "takes input 'prnue', which is not a node (did you mean 'prune'?)");
}

TEST(PipelineValidation, CycleIsNamed) {
  auto d = diagnose(
      "[nodes.a]\ntype = \"sleep_record\"\ninputs = [\"c\"]\n[nodes.b]\ntype = \"sleep_record\"\ninputs = [\"a\"]\n"
      "[nodes.c]\ntype = \"sleep_record\"\ninputs = [\"b\"]\n");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NE(d[0].message.find("cycle in inputs: a <- c <- b <- a"), std::string::npos) << d[0].str();
  EXPECT_EQ(d[0].pos.line, 1);
}

TEST(PipelineValidation, ValueNotAllowed) {
  expect_one(std::string(kModel) + "[nodes.q]\ntype = \"sleep_record\"\ninputs = [\"model\"]\nmode = \"slow\"\n", 6, 8,
             "value \"slow\" is not one of \"normal\", \"fast\"");
}

TEST(PipelineValidation, MatrixAxisMustBeAParameterAndAList) {
  auto d = diagnose(
      std::string(kModel) +
      "[nodes.q]\ntype = \"sleep_record\"\ninputs = [\"model\"]\n[nodes.q.matrix]\nalgo = [1]\nx = 3\ny = []\n");
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].pos.line, 7);
  EXPECT_NE(d[0].message.find("unknown key 'algo'"), std::string::npos);
  EXPECT_EQ(d[1].pos.line, 8);
  EXPECT_NE(d[1].message.find("axis 'x' must be an array"), std::string::npos);
  EXPECT_EQ(d[2].pos.line, 9);
  EXPECT_NE(d[2].message.find("axis 'y' is empty"), std::string::npos);
}

TEST(PipelineValidation, MissingTypeAndInputs) {
  auto d = diagnose(std::string(kModel) + "[nodes.q]\nsleep_ms = 1\n");
  ASSERT_EQ(d.size(), 2u);
  EXPECT_NE(d[0].str().find("bad.toml:3:8: [nodes.q] has no 'type'"), std::string::npos) << d[0].str();
  EXPECT_NE(d[1].str().find("has no 'inputs'"), std::string::npos) << d[1].str();
}

TEST(PipelineValidation, ModelInputWithoutModelTable) {
  expect_one("[nodes.q]\ntype = \"sleep_record\"\ninputs = [\"model\"]\n", 3, 11, "has no [model] path");
}

TEST(PipelineValidation, TaskPluginKindAndParameters) {
  auto d = diagnose(std::string(kModel) +
                    "[task]\ntype = \"sleep_record\"\n[nodes.q]\ntype = \"echo_task\"\ninputs = [\"model\"]\n");
  ASSERT_EQ(d.size(), 2u);
  EXPECT_NE(d[0].message.find("'sleep_record' is a strategy plugin; [task] needs a task plugin"), std::string::npos)
      << d[0].str();
  EXPECT_NE(d[1].message.find("'echo_task' is a task plugin; nodes need a strategy"), std::string::npos) << d[1].str();
  expect_one(
      std::string(kModel) +
          "[task]\ntype = \"echo_task\"\nnum_labels = 2.5\n[nodes.q]\ntype = \"sleep_record\"\ninputs = [\"model\"]\n",
      5, 14, "expected int, got float");
}

TEST(PipelineValidation, EveryErrorIsReportedInOnePass) {
  auto d = diagnose(
      "[pipeline]\nmax_parallel = 0\nfoo = 1\n[nodes.a]\ntype = \"nope\"\ninputs = [\"b\"]\n[nodes.c]\ntype = "
      "\"sleep_record\"\ninputs = [\"a\"]\nsleep_ms = true\n");
  ASSERT_GE(d.size(), 5u);
  for (const auto& x : d) EXPECT_GT(x.pos.line, 0) << x.str();
}

TEST(PipelineValidation, EnvironmentInterpolationAndOverrides) {
  ::setenv("SLIMPIPE_TEST_OUT", "/tmp/from-env", 1);
  ::unsetenv("SLIMPIPE_TEST_UNSET");
  auto spec = parse_pipeline(
      "[pipeline]\noutput_dir = \"${SLIMPIPE_TEST_OUT}/x\"\n[nodes.q]\ntype = \"sleep_record\"\ninputs = [\"p\"]\n"
      "payload = \"${SLIMPIPE_TEST_UNSET:-fallback}\"\n[nodes.p]\ntype = \"sleep_record\"\ninputs = "
      "[\"model\"]\n[model]\npath = \"m\"\n",
      "p.toml", {"nodes.q.sleep_ms=7", "pipeline.max_parallel=3"}, testutil::test_registry());
  EXPECT_EQ(spec.output_dir, "/tmp/from-env/x");
  EXPECT_EQ(spec.max_parallel, 3);
  EXPECT_EQ(spec.find_node("q")->params["sleep_ms"], 7);
  EXPECT_EQ(spec.find_node("q")->params["payload"], "fallback");
  auto d = diagnose(
      "[pipeline]\noutput_dir = \"${SLIMPIPE_TEST_UNSET}\"\n[nodes.q]\ntype = \"sleep_record\"\ninputs = "
      "[\"model\"]\n[model]\npath = \"m\"\n");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NE(d[0].message.find("environment variable 'SLIMPIPE_TEST_UNSET' is not set"), std::string::npos);
  auto o = diagnose("[nodes.q]\ntype = \"sleep_record\"\ninputs = [\"model\"]\n[model]\npath = \"m\"\n",
                    {"nodes.q.sleep_ms=fast"});
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].pos.file.rfind("--set", 0), 0u) << o[0].str();
}
