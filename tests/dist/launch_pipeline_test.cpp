// A pipeline under `slimpipe launch --nproc 2`: finetune (from scratch) and dynabert train data-parallel, each rank
// in its own run folder (output_dir with ${SLIMPIPE_RANK_SUFFIX}); rank 0's folder holds what one process makes of
// the same pipeline (losses within 1e-4 relative, the same metrics), rank 1 logs no training lines, and two ranks on
// one run folder fail with the rank named.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "dist_test_support.hpp"

namespace {

using namespace slimpipe::dist_test;
using nlohmann::json;

const char* kPipeline = R"([pipeline]
name = "dp"
seed = 42
threads_per_instance = 1

[task]
type = "seq_cls"
source = "synthetic"
synthetic_train_size = 149
synthetic_eval_size = 60
synthetic_test_size = 0
max_seq_length = 32

[nodes.train]
type = "finetune"
inputs = []
from_scratch = true
hidden_size = 32
num_hidden_layers = 1
num_attention_heads = 2
intermediate_size = 64
max_position_embeddings = 32
hidden_dropout_prob = 0.0
attention_probs_dropout_prob = 0.0
learning_rate = 2e-3
max_steps = 12
per_device_train_batch_size = 20
per_device_eval_batch_size = 64
logging_steps = 1
save_steps = 6
export_formats = []

[nodes.prune]
type = "dynabert"
inputs = ["train"]
width_mult_list = ["1/2"]
learning_rate = 5e-4
max_steps = 6
per_device_train_batch_size = 20
per_device_eval_batch_size = 64
logging_steps = 1
save_steps = 3
export_formats = []
)";

json read_json(const fs::path& file) { return json::parse(read_text(file)); }

// The metrics of an artifact's manifest: every figure the same, train_loss within 1e-4 relative.
void expect_same_metrics(const fs::path& one, const fs::path& two) {
  const json a = read_json(one / "manifest.json")["metrics"], b = read_json(two / "manifest.json")["metrics"];
  ASSERT_FALSE(a.empty()) << one;
  ASSERT_EQ(a.size(), b.size()) << a.dump() << " vs " << b.dump();
  for (const auto& [k, v] : a.items()) {
    if (k == "train_loss")
      EXPECT_NEAR(b[k].get<double>(), v.get<double>(), 1e-4 * std::abs(v.get<double>())) << one;
    else
      EXPECT_EQ(b[k], v) << k << " of " << one;
  }
}

TEST(LaunchPipeline, FinetuneAndDynabertOnTwoRanksMatchOneProcess) {
  Scratch s("launch-pipeline");
  std::ofstream(s / "dp.toml") << kPipeline;
  const std::string cli = std::string("'") + SLIMPIPE_CLI + "'";
  const Outcome one = run_shell("env -u RANK -u WORLD_SIZE -u SLURM_PROCID -u SLURM_NTASKS " + cli + " run '" +
                                    (s / "dp.toml") + "' --set 'pipeline.output_dir=" + (s / "one") + "' -q",
                                s, "one");
  ASSERT_EQ(one.status, 0) << one.err;
  const Outcome two = run_shell(cli + " launch --nproc 2 -- " + cli + " run '" + (s / "dp.toml") +
                                    "' --set 'pipeline.output_dir=" + (s / "two") + "${SLIMPIPE_RANK_SUFFIX}' -q",
                                s, "two");
  ASSERT_EQ(two.status, 0) << two.err;

  expect_same_metrics(s.dir() / "one/train", s.dir() / "two/train");
  expect_same_metrics(s.dir() / "one/prune/width_0.5", s.dir() / "two/prune/width_0.5");
  // Every step's logged loss of finetune.
  const json la = read_json(s.dir() / "one/train/metrics.json")["train"]["log_history"];
  const json lb = read_json(s.dir() / "two/train/metrics.json")["train"]["log_history"];
  ASSERT_EQ(la.size(), lb.size());
  int losses = 0;
  for (std::size_t i = 0; i < la.size(); ++i)
    if (la[i].contains("loss")) {
      ++losses;
      const double x = la[i]["loss"].get<double>(), y = lb[i]["loss"].get<double>();
      EXPECT_NEAR(y, x, 1e-4 * std::abs(x)) << "step " << la[i]["step"];
    }
  EXPECT_EQ(losses, 12);
  // Rank 1 wrote only into its own folder, the same models, and logged its rank instead of training lines.
  EXPECT_TRUE(fs::exists(s.dir() / "two.rank1/train/model.safetensors"));
  const std::string rank1_log = read_text(s.dir() / "two.rank1/logs/run.log");
  EXPECT_NE(rank1_log.find("data parallel: rank 1 of 2"), std::string::npos) << rank1_log;
  EXPECT_EQ(rank1_log.find("eval at step"), std::string::npos) << rank1_log;
  EXPECT_NE(read_text(s.dir() / "two/logs/run.log").find("eval at step"), std::string::npos);
}

TEST(LaunchPipeline, TwoRanksOnOneRunFolderFailNamingTheRank) {
  Scratch s("launch-same-folder");
  std::ofstream(s / "dp.toml") << kPipeline;
  const std::string cli = std::string("'") + SLIMPIPE_CLI + "'";
  const Outcome o = run_shell(cli + " launch --nproc 2 -- " + cli + " run '" + (s / "dp.toml") +
                                  "' --set 'pipeline.output_dir=" + (s / "same") + "' -q",
                              s, "same");
  EXPECT_NE(o.status, 0) << o.err;
  EXPECT_NE(o.err.find("slimpipe launch: rank "), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("stopping the other ranks"), std::string::npos) << o.err;
}

}  // namespace
