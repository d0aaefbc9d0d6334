// End to end through the CLI, like quickstart_e2e_test.cpp for seq_cls: a pipeline fine-tunes a small
// encoder from scratch on the synthetic token_cls and qa sources (the real task, finetune and evaluate
// plugins), then evaluates it; the metric must be far above what chance gets on the same eval split.
// Chance is computed here from the eval examples themselves (see each test), not hard-coded.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "slimpipe/data/random.hpp"
#include "slimpipe/data/synthetic.hpp"
#include "slimpipe/metrics/chunk.hpp"
#include "slimpipe/metrics/squad.hpp"
#include "train/cli_pipeline_support.hpp"

namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kTrainPlugins = {"libslimpipe_finetune.so", "libslimpipe_evaluate.so"};

// Writes a pipeline file (a [pipeline] table, then `body`) to a fresh folder and runs it with the CLI.
cli_pipeline::Result run_pipeline(const std::string& name, const std::string& body) {
  const fs::path dir = fs::temp_directory_path() / ("slimpipe_" + name + "_toml_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path file = dir / (name + ".toml");
  std::ofstream(file) << "[pipeline]\nname = \"" << name << "\"\nseed = 42\nthreads_per_instance = 1\n\n" << body;
  const cli_pipeline::Result r = cli_pipeline::run(file, name);
  fs::remove_all(dir);
  return r;
}

// The encoder and training settings both tests share: small enough to train in well under a minute on
// one thread, with the task's own synthetic vocabulary.
std::string finetune_node(int epochs, int max_position_embeddings) {
  std::ostringstream s;
  s << "[nodes.train]\ntype = \"finetune\"\ninputs = []\nfrom_scratch = true\n"
    << "hidden_size = 64\nnum_hidden_layers = 2\nnum_attention_heads = 4\nintermediate_size = 256\n"
    << "max_position_embeddings = " << max_position_embeddings << "\n"
    << "learning_rate = 2e-3\nweight_decay = 0.01\nwarmup_ratio = 0.1\n"
    << "num_train_epochs = " << epochs << "\n"
    << "per_device_train_batch_size = 32\nper_device_eval_batch_size = 128\n"
    << "logging_steps = 50\nsave_steps = 100\n\n"
    << "[nodes.evaluate]\ntype = \"evaluate\"\ninputs = [\"train\"]\nper_device_eval_batch_size = 128\n";
  return s.str();
}

}  // namespace

// token_cls: entity-level F1 (seqeval's default chunking). Chance: a tagger that draws each word's tag
// uniformly from the 9 tags, scored on the same eval split (6.3 F1). Tagging everything O scores 0.
TEST(TasksFinetune, TokenClsFromScratchFarAboveChance) {
  auto plugins = kTrainPlugins;
  plugins.push_back("libslimpipe_task_token_cls.so");
  if (const std::string missing = cli_pipeline::missing_plugin(plugins); !missing.empty())
    GTEST_FAIL() << missing << " is not built (every test program depends on target slimpipe_plugins: a build error?)";
  constexpr int kTrain = 2000, kEval = 500, kSeed = 1;
  const cli_pipeline::Result r = run_pipeline(
      "token_cls",
      "[task]\ntype = \"token_cls\"\nsource = \"synthetic\"\n"
      "synthetic_train_size = " +
          std::to_string(kTrain) + "\nsynthetic_eval_size = " + std::to_string(kEval) +
          "\nsynthetic_seed = " + std::to_string(kSeed) + "\nmax_seq_length = 48\n\n" + finetune_node(4, 48));

  // Chance on the eval split (synthetic_seed + 1), through the same chunk scorer the task uses.
  const auto eval = slimpipe::data::synthetic_token_cls(kEval, kSeed + 1);
  const auto& names = eval.labels.names();
  slimpipe::data::SplitMix64 rng(7);
  slimpipe::metrics::ChunkF1 chance;
  for (const auto& ex : eval.examples) {
    std::vector<std::int64_t> guess(ex.tags.size());
    for (auto& g : guess) g = static_cast<std::int64_t>(rng.below(names.size()));
    chance.add(ex.tags, guess, names);
  }
  const double chance_f1 = 100.0 * chance.micro().f1();

  const auto& m = r.evaluation["metrics"];
  const double f1 = m["f1"].get<double>();
  std::printf("token_cls: eval entity F1 %.2f (precision %.2f, recall %.2f); chance %.2f; %.1f s wall\n", f1,
              m["precision"].get<double>(), m["recall"].get<double>(), chance_f1, r.seconds);
  EXPECT_LT(chance_f1, 10.0);
  EXPECT_GT(f1, 80.0) << "chance is " << chance_f1;
  EXPECT_GT(m["precision"].get<double>(), 70.0);
  EXPECT_GT(m["recall"].get<double>(), 70.0);
  EXPECT_NEAR(f1, r.trained["metrics"]["f1"].get<double>(), 1e-9);  // evaluate re-scores the saved best state
}

// qa: SQuAD v1.1 exact match and F1. Chance: a uniformly random span of one to three words of the
// context, scored on the same eval split (1.8 EM, 3.6 F1). This budget (500 steps of a 64-wide encoder)
// gets 30.6 EM / 34.5 F1: the model finds answers of the asked relation's type but does not yet match the
// question's subject. The context holds 2 or 3 facts of the asked relation, so picking among their
// objects at random would score about (1/2 + 1/3) / 2 = 42 EM; 1,000 steps of a 128-wide encoder were
// still at 33 EM (docs/results.md), so that bar is out of reach of a CI-sized run.
TEST(TasksFinetune, QaFromScratchFarAboveChance) {
  auto plugins = kTrainPlugins;
  plugins.push_back("libslimpipe_task_qa.so");
  if (const std::string missing = cli_pipeline::missing_plugin(plugins); !missing.empty())
    GTEST_FAIL() << missing << " is not built (every test program depends on target slimpipe_plugins: a build error?)";
  constexpr int kTrain = 4000, kEval = 500, kSeed = 1;
  const cli_pipeline::Result r =
      run_pipeline("qa",
                   "[task]\ntype = \"qa\"\nsource = \"synthetic\"\n"
                   "synthetic_train_size = " +
                       std::to_string(kTrain) + "\nsynthetic_eval_size = " + std::to_string(kEval) +
                       "\nsynthetic_seed = " + std::to_string(kSeed) +
                       "\nmax_seq_length = 96\nmax_query_length = 16\ndoc_stride = 32\n\n" + finetune_node(4, 96));

  const auto eval = slimpipe::data::synthetic_qa(kEval, kSeed + 1);
  slimpipe::data::SplitMix64 rng(7);
  slimpipe::metrics::QaScorer chance(slimpipe::metrics::QaScoring::SquadV11);
  for (const auto& ex : eval.examples) {
    std::vector<std::string> words;
    std::istringstream in(ex.context);
    for (std::string w; in >> w;) words.push_back(w);
    const std::size_t len = 1 + static_cast<std::size_t>(rng.below(3));
    const std::size_t begin = static_cast<std::size_t>(rng.below(words.size() - len + 1));
    std::string span;
    for (std::size_t i = begin; i < begin + len; ++i) span += (span.empty() ? "" : " ") + words[i];
    std::vector<std::string> golds;
    for (const auto& a : ex.answers) golds.push_back(a.text);
    chance.add(span, golds);
  }

  const auto& m = r.evaluation["metrics"];
  const double em = m["exact_match"].get<double>(), f1 = m["f1"].get<double>();
  std::printf("qa: eval EM %.2f, F1 %.2f; chance EM %.2f, F1 %.2f; %.1f s wall\n", em, f1, chance.exact(), chance.f1(),
              r.seconds);
  EXPECT_LT(chance.exact(), 5.0);
  EXPECT_GT(em, chance.exact() + 12.0) << "chance EM is " << chance.exact();
  EXPECT_GT(f1, chance.f1() + 12.0) << "chance F1 is " << chance.f1();
  EXPECT_NEAR(f1, r.trained["metrics"]["f1"].get<double>(), 1e-9);
}
