// End to end through the CLI on tiny synthetic pipelines: finetune from scratch, dynabert at widths
// 3/4 and 0.5 in one run, then evaluate each width's artifact. Every width must export correctly, for
// sequence classification and for extractive QA (span head, EM/F1 metrics).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "slimpipe/io/checkpoint.hpp"
#include "train/cli_pipeline_support.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json read_json(const fs::path& p) {
  std::ifstream in(p);
  if (!in) throw std::runtime_error(p.string() + ": cannot open");
  return json::parse(in);
}

std::string read_text(const fs::path& p) {
  std::ifstream f(p);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

const char* kPipeline = R"(
[pipeline]
name = "dynabert_cli"
output_dir = "out"
seed = 3
threads_per_instance = 1

[model]
path = "."

[task]
type = "seq_cls"
source = "synthetic"
synthetic_train_size = 400
synthetic_eval_size = 200
max_seq_length = 32

[nodes.train]
type = "finetune"
inputs = ["model"]
from_scratch = true
hidden_size = 32
num_hidden_layers = 2
num_attention_heads = 4
intermediate_size = 64
max_position_embeddings = 32
learning_rate = 2e-3
num_train_epochs = 3
per_device_train_batch_size = 32
per_device_eval_batch_size = 200
logging_steps = 20
save_steps = 20
)";

// Both pipelines end the same way: dynabert at widths 3/4 and 0.5, then the evaluate node on every width.
const char* kPruneAndEvaluate = R"(
[nodes.prune]
type = "dynabert"
inputs = ["train"]
width_mult_list = ["3/4", 0.5]
learning_rate = 1e-3
num_train_epochs = 1
per_device_train_batch_size = 32
per_device_eval_batch_size = 200
logging_steps = 5
save_steps = 5
flops_seq_length = 32

[nodes.evaluate]
type = "evaluate"
inputs = ["prune"]
per_device_eval_batch_size = 200
)";

// Runs `pipeline` + kPruneAndEvaluate through the CLI in a fresh temp folder (out_ is its output folder).
// Fails the test when a plugin it needs is missing; callers return after a fatal failure.
class DynabertCli : public ::testing::Test {
 protected:
  void run(const char* task_plugin, const std::string& tag, const char* pipeline) {
    if (const std::string missing = cli_pipeline::missing_plugin(
            {task_plugin, "libslimpipe_finetune.so", "libslimpipe_dynabert.so", "libslimpipe_evaluate.so"});
        !missing.empty())
      GTEST_FAIL() << missing
                   << " is not built (every test program depends on target slimpipe_plugins: a build error?)";
    dir_ = fs::temp_directory_path() / ("slimpipe_" + tag + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "pipeline.toml") << pipeline << kPruneAndEvaluate;
    const std::string cmd = std::string(SLIMPIPE_CLI) + " run " + (dir_ / "pipeline.toml").string() + " -q > " +
                            (dir_ / "run.log").string() + " 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n" << read_text(dir_ / "run.log");
    out_ = dir_ / "out";
  }
  void TearDown() override {
    if (!dir_.empty() && !HasFailure()) fs::remove_all(dir_);
  }

  fs::path dir_, out_;
};

TEST_F(DynabertCli, SeveralWidthsInOneRunExportCorrectly) {
  run("libslimpipe_task_seq_cls.so", "dynabert_cli", kPipeline);
  if (HasFatalFailure()) return;
  const fs::path& out = out_;
  const auto trained = read_json(out / "train" / "manifest.json");
  const std::int64_t full_params = trained["param_count"];
  const std::map<std::string, std::int64_t> heads{{"width_0.75", 3}, {"width_0.5", 2}};
  for (const auto& [name, kept] : heads) {
    const fs::path w = out / "prune" / name;
    for (const char* f : {"config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json", "model.pt",
                          "model.onnx", "metrics.json", "manifest.json"})
      EXPECT_TRUE(fs::exists(w / f)) << name << "/" << f;
    const auto config = read_json(w / "config.json");
    ASSERT_TRUE(config.contains("pruned_heads")) << name;
    for (const char* layer : {"0", "1"})
      EXPECT_EQ(config["pruned_heads"][layer].size(), static_cast<std::size_t>(4 - kept));
    EXPECT_EQ(config["intermediate_size"], 64 * kept / 4);

    const auto manifest = read_json(w / "manifest.json");
    EXPECT_EQ(manifest["kind"], "model");
    EXPECT_EQ(manifest["paddle_name"], name == "width_0.75" ? "width_mult_0.75" : "width_mult_0.5");
    EXPECT_LT(manifest["param_count"].get<std::int64_t>(), full_params);
    const auto& fig = manifest["dynabert"];
    EXPECT_NEAR(fig["param_ratio"].get<double>(),
                static_cast<double>(manifest["param_count"].get<std::int64_t>()) / static_cast<double>(full_params),
                1e-12);
    EXPECT_NEAR(fig["flops_ratio"].get<double>(), kept / 4.0, 0.05) << name;  // attention + FFN scale with the width
    for (const char* m : {"accuracy", "sliced_accuracy", "naive_sliced_accuracy", "input_accuracy"})
      EXPECT_TRUE(manifest["metrics"].contains(m)) << name << ": " << m;

    // The saved model loads and is the pruned architecture.
    const auto loaded = slimpipe::io::load_model(w);
    EXPECT_EQ(loaded.config.num_heads(0), kept);
    // The evaluate node re-scores the exported folder: it agrees with the best accuracy dynabert recorded.
    const auto evaluation = read_json(out / "evaluate" / ("prune=" + name) / "manifest.json");
    EXPECT_NEAR(evaluation["metrics"]["accuracy"].get<double>(), manifest["metrics"]["accuracy"].get<double>(), 1e-9)
        << name;
  }
  // Per-width losses and evaluations are logged.
  const std::string run_log = read_text(out / "logs" / "run.log");
  EXPECT_NE(run_log.find("loss@0.75="), std::string::npos);
  EXPECT_NE(run_log.find("loss@0.5="), std::string::npos);
  EXPECT_NE(run_log.find("width 0.5: accuracy="), std::string::npos);
}

// The QA task through dynabert: distillation of start/end logits, importance from the span loss, and
// SQuAD EM/F1 recorded for every width (best, sliced before distillation, sliced without reordering, input).
// The nodes after train are kPruneAndEvaluate.
const char* kQaPipeline = R"(
[pipeline]
name = "dynabert_qa_cli"
output_dir = "out"
seed = 5
threads_per_instance = 1

[model]
path = "."

[task]
type = "qa"
source = "synthetic"
synthetic_train_size = 300
synthetic_eval_size = 100
max_seq_length = 96
max_query_length = 16
doc_stride = 32

[nodes.train]
type = "finetune"
inputs = ["model"]
from_scratch = true
hidden_size = 32
num_hidden_layers = 2
num_attention_heads = 4
intermediate_size = 64
max_position_embeddings = 96
# Dropout set on the fresh encoder: both values reach config.json and every width's config.
hidden_dropout_prob = 0.0
attention_probs_dropout_prob = 0.05
learning_rate = 2e-3
num_train_epochs = 2
per_device_train_batch_size = 32
per_device_eval_batch_size = 100
logging_steps = 10
save_steps = 10

)";

TEST_F(DynabertCli, QaWidthsExportWithExactMatchAndF1) {
  run("libslimpipe_task_qa.so", "dynabert_qa_cli", kQaPipeline);
  if (HasFatalFailure()) return;
  const fs::path& out = out_;
  const std::int64_t full_params = read_json(out / "train" / "manifest.json")["param_count"];
  for (const fs::path& folder : {out / "train", out / "prune" / "width_0.75", out / "prune" / "width_0.5"}) {
    const auto config = read_json(folder / "config.json");
    EXPECT_EQ(config["hidden_dropout_prob"].get<double>(), 0.0) << folder;
    EXPECT_EQ(config["attention_probs_dropout_prob"].get<double>(), 0.05) << folder;
  }
  for (const auto& [name, kept] : std::map<std::string, std::int64_t>{{"width_0.75", 3}, {"width_0.5", 2}}) {
    const fs::path w = out / "prune" / name;
    for (const char* f :
         {"config.json", "model.safetensors", "vocab.txt", "model.pt", "model.onnx", "metrics.json", "manifest.json"})
      EXPECT_TRUE(fs::exists(w / f)) << name << "/" << f;
    const auto manifest = read_json(w / "manifest.json");
    EXPECT_EQ(manifest["kind"], "model");
    EXPECT_EQ(manifest["primary_metric"], "f1");
    EXPECT_LT(manifest["param_count"].get<std::int64_t>(), full_params);
    const auto& metrics = manifest["metrics"];
    for (const char* m : {"f1", "exact_match", "sliced_f1", "naive_sliced_f1", "input_f1"}) {
      ASSERT_TRUE(metrics.contains(m)) << name << ": " << m;
      EXPECT_GE(metrics[m].get<double>(), 0.0) << name << ": " << m;
      EXPECT_LE(metrics[m].get<double>(), 100.0) << name << ": " << m;
    }
    // EM never exceeds F1 (an exact match scores F1 100), and every eval question was scored.
    EXPECT_LE(metrics["exact_match"].get<double>(), metrics["f1"].get<double>() + 1e-9) << name;
    EXPECT_EQ(metrics["examples"].get<double>(), 100.0) << name;
    // The figures of the reference slices keep the QA metric set too.
    const auto& fig = manifest["dynabert"];
    for (const char* part : {"eval", "sliced_before_distillation", "sliced_without_reordering", "input_model_eval"})
      EXPECT_TRUE(fig[part].contains("exact_match")) << name << ": " << part;
    EXPECT_EQ(fig["input_model_eval"]["f1"].get<double>(), metrics["input_f1"].get<double>()) << name;

    // The folder loads as a pruned span-extraction model, and the evaluate node re-scores it to the same F1 and EM.
    const auto loaded = slimpipe::io::load_model(w);
    EXPECT_EQ(loaded.config.num_heads(0), kept) << name;
    EXPECT_EQ(loaded.config.intermediate_size_of(0), 64 * kept / 4) << name;
    EXPECT_EQ(loaded.model->head(), slimpipe::nn::TaskHead::QuestionAnswering) << name;
    const auto evaluation = read_json(out / "evaluate" / ("prune=" + name) / "manifest.json");
    EXPECT_NEAR(evaluation["metrics"]["f1"].get<double>(), metrics["f1"].get<double>(), 1e-9) << name;
    EXPECT_NEAR(evaluation["metrics"]["exact_match"].get<double>(), metrics["exact_match"].get<double>(), 1e-9) << name;
  }
  EXPECT_NE(read_text(out / "logs" / "run.log").find("width 0.5: f1="), std::string::npos);
}

// A dropout outside [0, 1) stops the finetune node before any training with one line naming the key.
TEST(FinetuneParams, DropoutOutsideUnitIntervalIsOneLineError) {
  if (const std::string missing =
          cli_pipeline::missing_plugin({"libslimpipe_task_seq_cls.so", "libslimpipe_finetune.so"});
      !missing.empty())
    GTEST_FAIL() << missing << " is not built (every test program depends on target slimpipe_plugins: a build error?)";
  const fs::path dir = fs::temp_directory_path() / ("slimpipe_dropout_param_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const char* key : {"hidden_dropout_prob", "attention_probs_dropout_prob"}) {
    std::ofstream(dir / "pipeline.toml")
        << "[pipeline]\nname = \"dropout\"\noutput_dir = \"out\"\n[model]\npath = \".\"\n"
        << "[task]\ntype = \"seq_cls\"\nsource = \"synthetic\"\n"
        << "synthetic_train_size = 40\nsynthetic_eval_size = 20\nmax_seq_length = 16\n"
        << "[nodes.train]\ntype = \"finetune\"\ninputs = [\"model\"]\nfrom_scratch = true\n"
        << "hidden_size = 16\nnum_attention_heads = 2\nintermediate_size = 32\n"
        << key << " = 1.0\n";
    const std::string cmd = std::string(SLIMPIPE_CLI) + " run " + (dir / "pipeline.toml").string() + " -q > " +
                            (dir / "run.log").string() + " 2>&1";
    EXPECT_NE(std::system(cmd.c_str()), 0) << key;
    const std::string log = read_text(dir / "run.log");
    EXPECT_NE(log.find(std::string("slimpipe: failed: train: finetune: ") + key + " must be in [0, 1), got 1.0\n"),
              std::string::npos)
        << log;
    EXPECT_FALSE(fs::exists(dir / "out" / "train" / "model.safetensors")) << key;
  }
  fs::remove_all(dir);
}

}  // namespace
