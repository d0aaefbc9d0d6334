// End to end through the CLI: pipelines/quickstart.toml trains a model from scratch on the synthetic
// seq_cls task and evaluates it; the accuracy must be far above chance (1/3).
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "train/cli_pipeline_support.hpp"

namespace fs = std::filesystem;
using cli_pipeline::read_json;

TEST(Quickstart, TrainsFromScratchAndEvaluatesFarAboveChance) {
  if (const std::string missing = cli_pipeline::missing_plugin({"libslimpipe_task_seq_cls.so", "libslimpipe_finetune.so",
                                                                 "libslimpipe_evaluate.so", "libslimpipe_dynabert.so",
                                                                 "libslimpipe_ptq.so", "libslimpipe_rank.so"});
      !missing.empty())
    GTEST_FAIL() << missing << " is not built (every test program depends on target slimpipe_plugins: a build error?)";
  const fs::path out = fs::temp_directory_path() / ("slimpipe_quickstart_" + std::to_string(::getpid()));
  fs::remove_all(out);
  // 2 epochs instead of 8 keep the test well under a minute on an idle machine (the accuracy bar allows
  // for it: about 50% after 250 steps); one thread avoids OpenMP spin-waiting when the cores are shared.
  const std::string cmd = std::string(SLIMPIPE_CLI) + " run " + SLIMPIPE_SOURCE_DIR + "/pipelines/quickstart.toml" +
                          " --set pipeline.output_dir=" + out.string() +
                          " --set nodes.train.num_train_epochs=2 --set pipeline.threads_per_instance=1 -q > " + (out.string() + ".log") + " 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream log(out.string() + ".log");
  const std::string log_text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  ASSERT_EQ(rc, 0) << cmd << "\n" << log_text;

  const auto trained = read_json(out / "train" / "manifest.json");
  EXPECT_EQ(trained["kind"], "model");
  EXPECT_GT(trained["param_count"].get<std::int64_t>(), 50000);
  for (const char* f : {"config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json", "metrics.json"})
    EXPECT_TRUE(fs::exists(out / "train" / f)) << f;

  const auto evaluation = read_json(out / "evaluate" / "manifest.json");
  EXPECT_EQ(evaluation["kind"], "evaluation");
  const double accuracy = evaluation["metrics"]["accuracy"].get<double>();  // a percentage
  EXPECT_GT(accuracy, 45.0) << "chance is 33%";
  // The evaluate node re-scores the saved model: it must agree with the best state training kept.
  EXPECT_NEAR(accuracy, trained["metrics"]["accuracy"].get<double>(), 1e-9);
  EXPECT_TRUE(fs::exists(out / "evaluate" / "metrics.json"));
  EXPECT_FALSE(fs::exists(out / "evaluate" / "model.safetensors"));

  // prune -> the 6-cell PTQ grid -> rank: every cell evaluated, the best one's files in rank/.
  const auto ranking = read_json(out / "rank" / "ranking.json");
  ASSERT_EQ(ranking["candidates"].size(), 6u);
  for (const auto& c : ranking["candidates"]) {
    EXPECT_GT(c["accuracy"].get<double>(), 40.0) << c["id"];
    EXPECT_NEAR(c["reference"].get<double>(), accuracy, 1e-9) << "the reference is the unpruned fp32 model";
    // ... and timed with the runtime, against the unpruned fp32 model.
    EXPECT_GT(c["latency"]["batch_1"]["speedup"].get<double>(), 0.0) << c.dump(2);
  }
  EXPECT_EQ(ranking["bench"]["baseline"]["id"], "train");
  for (const char* f : {"model.int8.onnx", "calibration.json", "sensitivity.csv", "ranking.md", "config.json",
                        "runtime/runtime.json", "runtime/weights.bin"})
    EXPECT_TRUE(fs::exists(out / "rank" / f)) << f;

  // The run report, written at the end of the run: every artifact, the rank's best marked, Δ against the
  // unpruned model, latencies from the ranking.
  for (const char* f : {"report.md", "report.html", "summary.csv"}) EXPECT_TRUE(fs::exists(out / f)) << f;
  const auto summary = read_json(out / "summary.json");
  EXPECT_EQ(summary["pipeline"], "quickstart");
  std::size_t bests = 0;
  for (const auto& row : summary["rows"]) {
    EXPECT_EQ(row["status"], "done") << row.dump();
    if (row["id"] == ranking["best"]) {
      ++bests;
      EXPECT_TRUE(row["best"].get<bool>());
      EXPECT_EQ(row["baseline"], "train");
      EXPECT_NEAR(row["delta"].get<double>(), row["metric"].get<double>() - accuracy, 1e-9);
      EXPECT_GT(row["latency"]["batch_32"]["speedup"].get<double>(), 0.0);
    }
  }
  EXPECT_EQ(bests, 1u);
  EXPECT_EQ(summary["rows"].size(), 10u) << "train, evaluate, prune/width_0.75, 6 cells, rank";
  fs::remove_all(out);
  fs::remove(out.string() + ".log");
}
