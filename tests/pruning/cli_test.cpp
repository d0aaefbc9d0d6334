// End to end through the CLI on a tiny synthetic pipeline: finetune from scratch, dynabert at widths
// 3/4 and 0.5 in one run, then evaluate each width's artifact. Every width must export correctly.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "slimpipe/io/checkpoint.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json read_json(const fs::path& p) {
  std::ifstream in(p);
  if (!in) throw std::runtime_error(p.string() + ": cannot open");
  return json::parse(in);
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

TEST(DynabertCli, SeveralWidthsInOneRunExportCorrectly) {
  const fs::path plugins = fs::path(SLIMPIPE_BINARY_DIR) / "lib/slimpipe/plugins";
  for (const char* lib : {"libslimpipe_task_seq_cls.so", "libslimpipe_finetune.so", "libslimpipe_dynabert.so",
                          "libslimpipe_evaluate.so"})
    if (!fs::exists(plugins / lib)) GTEST_SKIP() << plugins / lib << " is not built";
  const fs::path dir = fs::temp_directory_path() / ("slimpipe_dynabert_cli_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "pipeline.toml") << kPipeline;
  const std::string cmd = std::string(SLIMPIPE_CLI) + " run " + (dir / "pipeline.toml").string() + " -q > " +
                          (dir / "run.log").string() + " 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream log(dir / "run.log");
  const std::string log_text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  ASSERT_EQ(rc, 0) << cmd << "\n" << log_text;

  const fs::path out = dir / "out";
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
    for (const char* layer : {"0", "1"}) EXPECT_EQ(config["pruned_heads"][layer].size(), static_cast<std::size_t>(4 - kept));
    EXPECT_EQ(config["intermediate_size"], 64 * kept / 4);

    const auto manifest = read_json(w / "manifest.json");
    EXPECT_EQ(manifest["kind"], "model");
    EXPECT_EQ(manifest["paddle_name"], name == "width_0.75" ? "width_mult_0.75" : "width_mult_0.5");
    EXPECT_LT(manifest["param_count"].get<std::int64_t>(), full_params);
    const auto& fig = manifest["dynabert"];
    EXPECT_NEAR(fig["param_ratio"].get<double>(),
                static_cast<double>(manifest["param_count"].get<std::int64_t>()) / static_cast<double>(full_params), 1e-12);
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
  const std::string run_log = [&] {
    std::ifstream f(out / "logs" / "run.log");
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  }();
  EXPECT_NE(run_log.find("loss@0.75="), std::string::npos);
  EXPECT_NE(run_log.find("loss@0.5="), std::string::npos);
  EXPECT_NE(run_log.find("width 0.5: accuracy="), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
