// The dynabert+ptq composite through the CLI: one ptq grid per DynaBERT width, ranked against the unpruned fp32
// model, and keys no step of the composite takes refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "quant/ptq_pipeline_support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace ptq_test;  // PtqPipeline, run, read_json, read_text, the tiny model

const char* kComposite = R"(
[pipeline]
name = "composite_test"
output_dir = "out"
threads_per_instance = 1
max_parallel = 2

[task]
type = "seq_cls"
source = "synthetic"
synthetic_train_size = 600
synthetic_eval_size = 200
max_seq_length = 32

[nodes.train]
type = "finetune"
inputs = []
from_scratch = true
hidden_size = 32
num_hidden_layers = 1
num_attention_heads = 4
intermediate_size = 64
max_position_embeddings = 32
num_train_epochs = 2
learning_rate = 3e-3

[nodes.compress]
type = "dynabert+ptq"
inputs = ["train"]
width_mult_list = ["3/4", "1/2"]
num_train_epochs = 1
learning_rate = 2e-3
algo_list = ["abs_max", "KL"]
batch_size_list = [4]
per_device_eval_batch_size = 100

[nodes.rank]
type = "rank"
inputs = ["compress"]
collect = true
)";

TEST_F(PtqPipeline, DynabertPlusPtqExpandsIntoAPtqGridPerWidth) {
  if (!fs::exists(fs::path(SLIMPIPE_BINARY_DIR) / "lib/slimpipe/plugins/libslimpipe_dynabert_ptq.so") ||
      !fs::exists(fs::path(SLIMPIPE_BINARY_DIR) / "lib/slimpipe/plugins/libslimpipe_dynabert.so"))
    GTEST_FAIL() << "dynabert or dynabert+ptq plugin is not built (every test program depends on target "
                    "slimpipe_plugins: a build error?)";
  std::ofstream(dir_ / "composite.toml") << kComposite;
  ASSERT_EQ(run("plan '" + (dir_ / "composite.toml").string() + "'", dir_ / "plan.log"), 0)
      << read_text(dir_ / "plan.log");
  const std::string plan = read_text(dir_ / "plan.log");
  EXPECT_NE(plan.find("compress_dynabert "), std::string::npos) << plan;
  for (const char* w : {"width_0.75", "width_0.5"})
    for (const char* a : {"abs_max", "KL"})
      EXPECT_NE(plan.find(std::string("compress@compress_dynabert=") + w + ",algo=" + a + ",batch_size=4,batch_num=1"),
                std::string::npos)
          << plan;
  EXPECT_NE(plan.find("7 to run"), std::string::npos) << plan;

  ASSERT_EQ(run("run '" + (dir_ / "composite.toml").string() + "' -q", dir_ / "run.log"), 0)
      << read_text(dir_ / "run.log");
  const fs::path out = dir_ / "out";
  // learning_rate is the dynabert step's; AdaRound's rate is the ptq step's adaround_learning_rate, at its default.
  EXPECT_DOUBLE_EQ(
      read_json(out / "compress_dynabert" / "width_0.75" / "manifest.json")["params"]["learning_rate"].get<double>(),
      2e-3);
  int cells = 0;
  for (const auto& e : fs::directory_iterator(out / "compress")) {
    if (!fs::exists(e.path() / "manifest.json")) continue;
    ++cells;
    const auto m = read_json(e.path() / "manifest.json");
    EXPECT_FALSE(m["params"].contains("learning_rate")) << e.path();
    EXPECT_DOUBLE_EQ(m["params"]["adaround_learning_rate"].get<double>(), 1e-3) << e.path();
    // The reference of a pruned INT8 model is the unpruned fp32 one.
    EXPECT_TRUE(m["metrics"].contains("origin_accuracy")) << e.path();
    EXPECT_TRUE(m.contains("width"));
  }
  EXPECT_EQ(cells, 4);
  const auto ranking = read_json(out / "rank" / "ranking.json");
  EXPECT_EQ(ranking["candidates"].size(), 4u);
  // Speedups are against the unpruned fp32 model: cell -> its width (input_model) -> train.
  EXPECT_EQ(ranking["bench"]["baseline"]["id"], "train") << ranking["bench"].dump(2);
  // The pruned fp32 widths are evaluated and timed too: the gains of pruning and of quantization read apart.
  int parents = 0;
  for (const auto& m : ranking["models"])
    if (m["role"] == "fp32 parent") {
      ++parents;
      EXPECT_TRUE(m["delta_interval"].is_array()) << m.dump(2);
      EXPECT_GT(m["latency"]["batch_1"]["p50_ms"].get<double>(), 0.0) << m.dump(2);
      // ... and scored on the held-out test split beside the baseline, with Δ and its interval.
      EXPECT_TRUE(m["test"]["accuracy"].is_number()) << m.dump(2);
      EXPECT_TRUE(m["test"]["delta_interval"].is_array()) << m.dump(2);
    } else if (m["role"] == "baseline") {
      EXPECT_TRUE(m["test"]["accuracy"].is_number()) << m.dump(2);
    }
  EXPECT_EQ(parents, 2);
  EXPECT_NE(read_text(out / "rank" / "ranking.md").find("; test "), std::string::npos);
  for (const auto& c : ranking["candidates"])
    EXPECT_NE(c["fp32_model"].get<std::string>().find("compress_dynabert/width_"), std::string::npos) << c.dump(2);
  for (const char* w : {"width_0.75", "width_0.5"})
    EXPECT_EQ(read_json(out / "compress_dynabert" / w / "runtime" / "runtime.json")["precision"], "fp32") << w;
}

TEST_F(PtqPipeline, CompositeRejectsKeysNoStepTakes) {
  std::ofstream(dir_ / "bad.toml")
      << std::string(kComposite).replace(std::string(kComposite).find("algo_list"), 9, "algo_lsit");
  EXPECT_NE(run("validate '" + (dir_ / "bad.toml").string() + "'", dir_ / "bad.log"), 0);
  const std::string log = read_text(dir_ / "bad.log");
  EXPECT_NE(log.find("unknown key 'algo_lsit' in [nodes.compress] (no step of composite 'dynabert+ptq'"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("did you mean 'algo_list'"), std::string::npos) << log;
}

}  // namespace
