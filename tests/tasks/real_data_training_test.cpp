// Training from scratch on real data: pipelines/sst2.toml and pipelines/conll2003.toml run through the
// built CLI on ../shared/data and must reach the bars (SST-2 dev accuracy >= 75%, CoNLL-2003
// eng.testa entity F1 >= 60). They take minutes, so these suites carry the ctest label `realdata`
// (tests/CMakeLists.txt), which scripts/test.sh leaves out: run them with `ctest -L realdata`.
// Skipped where the data or the plugins are absent. The time printed is a figure to read, not a bar.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "train/cli_pipeline_support.hpp"

namespace fs = std::filesystem;

namespace {

using PipelineRun = cli_pipeline::Result;

bool have_all(const std::vector<fs::path>& paths, std::string& missing) {
  for (const auto& p : paths)
    if (!fs::exists(p)) {
      missing = p.string();
      return false;
    }
  return true;
}

// Runs pipelines/<name>.toml with SLIMPIPE_DATA_DIR pointing at the shared data.
PipelineRun run_pipeline(const std::string& name) {
  return cli_pipeline::run(fs::path(SLIMPIPE_SOURCE_DIR) / "pipelines" / (name + ".toml"), "realdata_" + name,
                           std::string("SLIMPIPE_DATA_DIR='") + SLIMPIPE_SHARED_DATA_DIR + "'");
}

void print_run(const char* what, double metric, const PipelineRun& r) {
  const auto& t = r.trained["training"];
  std::printf(
      "%s %.2f; %lld steps (%.1f epochs), best at step %lld; %lld parameters; training %.0f s, "
      "pipeline %.0f s wall\n",
      what, metric, static_cast<long long>(t["steps"].get<std::int64_t>()), t["epochs"].get<double>(),
      static_cast<long long>(t["best_step"].get<std::int64_t>()),
      static_cast<long long>(r.trained["param_count"].get<std::int64_t>()), t["seconds"].get<double>(), r.seconds);
}

const fs::path kData = SLIMPIPE_SHARED_DATA_DIR;

}  // namespace

TEST(RealDataTraining, Sst2FromScratchReaches75DevAccuracy) {
  std::string missing;
  if (!have_all({kData / "sst2/train.tsv", kData / "sst2/dev.tsv", kData / "vocab/bert-base-uncased/vocab.txt"},
                missing))
    GTEST_SKIP() << missing << " is absent";
  missing = cli_pipeline::missing_plugin(
      {"libslimpipe_task_seq_cls.so", "libslimpipe_finetune.so", "libslimpipe_evaluate.so"});
  if (!missing.empty())
    GTEST_FAIL() << missing << " is not built (every test program depends on target slimpipe_plugins: a build error?)";
  const PipelineRun r = run_pipeline("sst2");
  const double accuracy = r.evaluation["metrics"]["accuracy"].get<double>();
  print_run("SST-2 dev accuracy", accuracy, r);
  EXPECT_EQ(r.evaluation["metrics"]["examples"].get<double>(), 872);
  EXPECT_GE(accuracy, 75.0) << "majority class is 50.9%";
}

TEST(RealDataTraining, Conll2003FromScratchReaches60ValidationF1) {
  std::string missing;
  if (!have_all(
          {kData / "conll2003/eng.train", kData / "conll2003/eng.testa", kData / "vocab/bert-base-uncased/vocab.txt"},
          missing))
    GTEST_SKIP() << missing << " is absent";
  missing = cli_pipeline::missing_plugin(
      {"libslimpipe_task_token_cls.so", "libslimpipe_finetune.so", "libslimpipe_evaluate.so"});
  if (!missing.empty())
    GTEST_FAIL() << missing << " is not built (every test program depends on target slimpipe_plugins: a build error?)";
  const PipelineRun r = run_pipeline("conll2003");
  const auto& m = r.evaluation["metrics"];
  const double f1 = m["f1"].get<double>();
  print_run("CoNLL-2003 eng.testa entity F1", f1, r);
  std::printf("  precision %.2f, recall %.2f, gold entities %.0f\n", m["precision"].get<double>(),
              m["recall"].get<double>(), m["gold_entities"].get<double>());
  EXPECT_EQ(m["sentences"].get<double>(), 3250);
  EXPECT_GE(f1, 60.0);
}
