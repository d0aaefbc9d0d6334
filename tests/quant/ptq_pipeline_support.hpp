// Shared by the pipeline tests of tests/quant (ptq_pipeline_test.cpp: ptq and rank; ptq_composite_test.cpp:
// dynabert+ptq; ptq_compress_test.cpp: slimpipe compress): the CLI runner, file readers, the fan-out pipeline and
// the PtqPipeline fixture, which gives each test a fresh folder holding that pipeline as pipeline.toml.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "train/cli_pipeline_support.hpp"

namespace ptq_test {

namespace fs = std::filesystem;

using cli_pipeline::read_json;

inline std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline int run(const std::string& args, const fs::path& log) {
  const std::string cmd = std::string(SLIMPIPE_CLI) + " " + args + " > '" + log.string() + "' 2>&1";
  return WEXITSTATUS(std::system(cmd.c_str()));
}

inline bool plugins_built() {
  const fs::path plugins = fs::path(SLIMPIPE_BINARY_DIR) / "lib/slimpipe/plugins";
  for (const char* lib :
       {"libslimpipe_task_seq_cls.so", "libslimpipe_finetune.so", "libslimpipe_ptq.so", "libslimpipe_rank.so"})
    if (!fs::exists(plugins / lib)) return false;
  return true;
}

// ptq with PaddleNLP's flat lists (two cells) on a freshly trained 2-layer model, rank three ways (the best within a
// drop, an SQNR gate no cell meets, the fastest), and the layer fallback after the best: one that can never meet its
// target, one that is not needed.
inline constexpr const char* kPipeline = R"(
[pipeline]
name = "ptq_test"
output_dir = "out"
seed = 3
max_parallel = 2
threads_per_instance = 1

[task]
type = "seq_cls"
source = "synthetic"
synthetic_train_size = 1200
synthetic_eval_size = 300
max_seq_length = 32

[nodes.train]
type = "finetune"
inputs = []
from_scratch = true
hidden_size = 32
num_hidden_layers = 2
num_attention_heads = 2
intermediate_size = 64
max_position_embeddings = 32
learning_rate = 3e-3
num_train_epochs = 3
per_device_train_batch_size = 32
per_device_eval_batch_size = 100
save_steps = 1000
logging_steps = 1000

[nodes.quant]
type = "ptq"
inputs = ["train"]
algo_list = ["abs_max", "KL"]
batch_size_list = [4]
batch_num_list = [2]
per_device_eval_batch_size = 100
sensitivity_samples = 64

[nodes.best]
type = "rank"
inputs = ["quant"]
collect = true
max_metric_drop = 100.0

[nodes.fallback]
type = "fallback"
inputs = ["best"]
until_drop_below = -1000.0
max_sites = 3
bench_batches = [1]

[nodes.keep]
type = "fallback"
inputs = ["best"]
until_drop_below = 1000.0
bench = false

[nodes.strict]
type = "rank"
inputs = ["quant"]
collect = true
min_logit_sqnr_db = 1000.0
bench = false

[nodes.fastest]
type = "rank"
inputs = ["quant"]
collect = true
max_metric_drop = 100.0
objective = "latency"
bench_batches = [4]
bench_iters = 2
bench_rounds = 1
)";

class PtqPipeline : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!plugins_built())
      GTEST_FAIL() << "ptq, rank, finetune or seq_cls plugin is not built (every test program depends on target "
                      "slimpipe_plugins: a build error?)";
    dir_ = fs::temp_directory_path() / ("slimpipe_ptq_pipeline_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "pipeline.toml") << kPipeline;
  }
  void TearDown() override {
    if (!HasFailure() && !dir_.empty()) fs::remove_all(dir_);
  }
  fs::path dir_;
};

// A pipeline that trains a 1-layer, 32-wide seq_cls model from scratch into <output_dir>/train.
inline std::string tiny_trained_model_pipeline(const std::string& output_dir, int train_size, int eval_size,
                                               int epochs) {
  return "[pipeline]\nname = \"" + output_dir + "\"\noutput_dir = \"" + output_dir +
         "\"\nthreads_per_instance = 1\n\n[task]\ntype = \"seq_cls\"\nsource = \"synthetic\"\n"
         "synthetic_train_size = " +
         std::to_string(train_size) + "\nsynthetic_eval_size = " + std::to_string(eval_size) +
         "\nmax_seq_length = 32\n\n[nodes.train]\ntype = \"finetune\"\ninputs = []\nfrom_scratch = true\n"
         "hidden_size = 32\nnum_hidden_layers = 1\nnum_attention_heads = 2\nintermediate_size = 64\n"
         "max_position_embeddings = 32\nlearning_rate = 3e-3\nnum_train_epochs = " +
         std::to_string(epochs) + "\n";
}

}  // namespace ptq_test
