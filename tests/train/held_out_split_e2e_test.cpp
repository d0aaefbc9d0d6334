// The held-out test split cannot steer a choice, end to end through the CLI: a pipeline fine-tunes (best
// checkpoint on eval), prunes with DynaBERT (head/neuron importance and width choice on eval), quantizes
// (calibration and sensitivity on eval) and evaluates, with a [task] test file that does not even parse.
// Everything but the evaluation on test succeeds; that one fails naming the file. Then adding a good test
// file reruns only the evaluation on test (the executor keys the test-only task parameters into the
// instances that read test alone), and its figures are recorded as test_<name>.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/test_util.hpp"
#include "slimpipe/data/synthetic.hpp"
#include "train/cli_pipeline_support.hpp"

namespace fs = std::filesystem;
using testutil::read_file;
using testutil::run_command;
using testutil::write_file;

namespace {

void write_tsv(const fs::path& p, const slimpipe::data::SeqClsDataset& d) {
  std::string text = "sentence\tlabel\n";
  for (const auto& ex : d.examples) text += ex.text_a + "\t" + d.labels.name(ex.label) + "\n";
  write_file(p, text);
}

const char* kPipeline = R"([pipeline]
output_dir = "out"
seed = 42
threads_per_instance = 1
[task]
type = "seq_cls"
train = "train.tsv"
eval = "dev.tsv"
test = "broken.tsv"
max_seq_length = 32
[nodes.train]
type = "finetune"
inputs = []
from_scratch = true
vocab = "vocab.txt"
hidden_size = 16
num_hidden_layers = 2
num_attention_heads = 2
intermediate_size = 32
max_position_embeddings = 32
num_train_epochs = 2
per_device_train_batch_size = 32
save_steps = 5
[nodes.prune]
type = "dynabert"
inputs = ["train"]
width_mult_list = ["1/2"]
num_train_epochs = 1
per_device_train_batch_size = 32
export_formats = []
[nodes.quant]
type = "ptq"
inputs = ["prune"]
algo_list = ["abs_max"]
batch_size_list = [4]
batch_num_list = [2]
[nodes.dev]
type = "evaluate"
inputs = ["train"]
[nodes.test]
type = "evaluate"
inputs = ["train"]
split = "test"
)";

}  // namespace

TEST(HeldOutSplit, TestDataSteersNoChoiceAndAddingItRerunsOnlyWhatReadsIt) {
  if (const std::string missing =
          cli_pipeline::missing_plugin({"libslimpipe_finetune.so", "libslimpipe_evaluate.so", "libslimpipe_dynabert.so",
                                        "libslimpipe_ptq.so", "libslimpipe_task_seq_cls.so"});
      !missing.empty())
    GTEST_FAIL() << missing << " is not built (every test program depends on target slimpipe_plugins: a build error?)";
  const fs::path dir = testutil::temp_dir("held-out-split");
  write_tsv(dir / "train.tsv", slimpipe::data::synthetic_seq_cls(160, 1));
  write_tsv(dir / "dev.tsv", slimpipe::data::synthetic_seq_cls(64, 2));
  write_tsv(dir / "test.tsv", slimpipe::data::synthetic_seq_cls(48, 3));
  write_file(dir / "broken.tsv", "sentence\tlabel\nthis line has no label column\n");
  std::string vocab;
  for (const auto& w : slimpipe::data::synthetic_vocabulary()) vocab += w + "\n";
  write_file(dir / "vocab.txt", vocab);
  write_file(dir / "p.toml", kPipeline);
  const std::string cli = std::string("cd ") + dir.string() + " && " + SLIMPIPE_CLI;

  // Every choice is made without test: only the evaluation on test fails, naming the file.
  auto r = run_command(cli + " run p.toml -q");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("failed: test: broken.tsv:2: expected at least 2 tab-separated columns, found 1"),
            std::string::npos)
      << r.output;
  for (const char* done : {"train", "prune/width_0.5", "dev"})
    EXPECT_TRUE(fs::exists(dir / "out" / done / "manifest.json")) << done;
  bool quantized = false;
  for (const auto& e : fs::directory_iterator(dir / "out" / "quant"))
    quantized |= fs::exists(e.path() / "manifest.json");
  EXPECT_TRUE(quantized) << r.output;
  EXPECT_FALSE(fs::exists(dir / "out" / "test" / "manifest.json"));
  const nlohmann::json dev = cli_pipeline::read_json(dir / "out" / "dev" / "manifest.json");
  EXPECT_EQ(dev["split"], "eval");
  EXPECT_TRUE(dev["metrics"].contains("accuracy"));

  // A good test file: only the instance that reads test runs.
  auto plan = run_command(cli + " plan p.toml --set task.test=test.tsv");
  EXPECT_EQ(plan.exit_code, 0) << plan.output;
  for (const char* cached : {"cached    train  (up to date)", "cached    dev  (up to date)",
                             "cached    prune  (up to date)", "cached    quant@prune=width_0.5"})
    EXPECT_NE(plan.output.find(cached), std::string::npos) << cached << "\n" << plan.output;
  EXPECT_EQ(plan.output.find("cached    test"), std::string::npos) << plan.output;
  r = run_command(cli + " run p.toml -q --set task.test=test.tsv");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  // Another test file (the same rows): the evaluation on test is stale, nothing else.
  fs::copy_file(dir / "test.tsv", dir / "test_copy.tsv");
  plan = run_command(cli + " plan p.toml --set task.test=test_copy.tsv");
  EXPECT_NE(plan.output.find("test  (task changed)"), std::string::npos) << plan.output;
  EXPECT_NE(plan.output.find("1 to run, 4 cached"), std::string::npos) << plan.output;
  const nlohmann::json test = cli_pipeline::read_json(dir / "out" / "test" / "manifest.json");
  EXPECT_EQ(test["split"], "test");
  EXPECT_TRUE(test["metrics"].contains("test_accuracy")) << test.dump();
  EXPECT_FALSE(test["metrics"].contains("accuracy")) << test.dump();
  const nlohmann::json metrics = cli_pipeline::read_json(dir / "out" / "test" / "metrics.json");
  EXPECT_EQ(metrics["split"], "test");
  EXPECT_EQ(metrics["test"]["examples"], 48);
  EXPECT_EQ(metrics["data"]["source"], "file");
  if (!HasFailure()) fs::remove_all(dir);
}
