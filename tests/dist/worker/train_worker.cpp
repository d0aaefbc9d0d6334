// One rank (or the single process) of the data-parallel training checks in tests/dist/data_parallel_test.cpp. It
// trains the tiny BERT for 20 steps, dropout 0, one thread: MODE trainer_seq (the Trainer on a sequence task whose
// global batch of 12 ends an epoch with 5 rows, split 2 + 3), trainer_token (the Trainer on token classification,
// whose 1-row batches leave rank 0 without rows) or dynabert (width distillation of widths 0.5 and 0.25, padded
// rows, batches of 12 ending in 5). Ranks start from different weights: rank 0's must reach every rank. Rank 0 (or
// the single process) writes one line per figure to OUT: "loss STEP [WIDTH] V...", "eval STEP [WIDTH] V",
// "best [WIDTH] V STEP", "weights [WIDTH] SUM|W|"; the other ranks write nothing. MODE concurrent_groups: two
// process groups formed and used at once by two threads; rank 0 writes "ok".
#include <ATen/Parallel.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <thread>

#include "pruning/pruning_test_support.hpp"
#include "slimpipe/pruning/width_distillation.hpp"
#include "slimpipe/train/distributed.hpp"
#include "slimpipe/train/trainer.hpp"
#include "slimpipe/train/weight_init.hpp"
#include "train/train_test_support.hpp"

namespace {

using namespace slimpipe;

double weight_sum(const torch::nn::Module& m) {
  double s = 0;
  for (const auto& p : m.parameters()) s += p.detach().to(at::kDouble).abs().sum().item<double>();
  return s;
}

train::TrainingArguments worker_args(std::int64_t batch, double learning_rate = 3e-3) {
  train::TrainingArguments a;
  a.learning_rate = learning_rate;
  a.max_steps = 20;
  a.per_device_train_batch_size = batch;
  a.per_device_eval_batch_size = 32;
  a.weight_decay = 0.01;
  a.warmup_steps = 2;
  a.max_grad_norm = 0.5;  // clips: what is clipped must be the global gradient
  a.logging_steps = 1;
  a.save_steps = 10;
  return a;
}

// A model of `config` (dropout 0) with BERT's initialisation, from a seed that differs per rank.
nn::TaskModel start_model(nn::EncoderConfig config, nn::TaskHead head, int rank, double range = 0.02) {
  config.hidden_dropout_prob = config.attention_probs_dropout_prob = 0.0;
  torch::manual_seed(static_cast<std::uint64_t>(3 + 1000 * rank));
  nn::TaskModel model(config, head);
  train::init_bert_weights(*model, range);
  return model;
}

void write_trainer(std::ostream& out, const train::TrainingResult& r, const nn::TaskModel& model) {
  for (const auto& h : r.log_history) {
    if (h.contains("loss")) out << "loss " << h["step"] << " " << h["loss"].get<double>() << "\n";
    if (h.contains("eval")) out << "eval " << h["step"] << " " << h["eval"]["accuracy"].get<double>() << "\n";
  }
  out << "best " << r.best->value << " " << r.best_step << "\n";
  out << "weights " << weight_sum(*model) << "\n";
}

template <typename TestTask>
void run_trainer(TestTask& task, nn::TaskModel model, const train::TrainingArguments& args, std::ostream* out) {
  train_test::TestContext ctx(&task, 1);
  train::Trainer trainer(model, task, args, ctx);
  trainer.set_train_data(task.train);
  trainer.set_eval_data(task.eval);
  const train::TrainingResult result = trainer.train();
  if (out) write_trainer(*out, result, trainer.model());
}

void run_dynabert(int rank, std::ostream* out) {
  using pruning::WidthConfig;
  auto config = pruning_test::tiny_config(2, 4);
  nn::TaskModel teacher = start_model(config, nn::TaskHead::SequenceClassification, rank, 0.2);
  nn::TaskModel student(std::dynamic_pointer_cast<nn::TaskModelImpl>(teacher->clone()));
  pruning_test::LabelTask task(nn::TaskHead::SequenceClassification);
  task.train = std::make_shared<pruning_test::LabelledFeatures>(41, 8, config.vocab_size, 3, false, 11);
  task.eval = std::make_shared<pruning_test::LabelledFeatures>(32, 8, config.vocab_size, 3, false, 12);
  train_test::TestContext ctx(&task, 1);
  const std::vector<WidthConfig> widths{WidthConfig::for_model(config, 0.5), WidthConfig::for_model(config, 0.25)};
  pruning::WidthDistillation distill(student, teacher, task, worker_args(12), 0.1, widths, ctx);
  distill.set_train_data(task.train);
  distill.set_eval_data(task.eval);
  const pruning::DistillationResult r = distill.train();
  if (!out) return;
  for (const auto& h : r.log_history)
    for (const char* w : {"0.5", "0.25"}) {
      if (h.contains("losses")) {
        const auto& l = h["losses"][w];
        *out << "loss " << h["step"] << " " << w << " " << l["loss"].get<double>() << " "
             << l["hidden_mse"].get<double>() << " " << l["logits_sce"].get<double>() << "\n";
      }
      if (h.contains("eval")) *out << "eval " << h["step"] << " " << w << " " << h["eval"][w]["accuracy"] << "\n";
    }
  for (const auto& o : r.widths) {
    *out << "best " << pruning::width_text(o.width.width) << " " << o.best->value << " " << o.best_step << "\n";
    *out << "weights " << pruning::width_text(o.width.width) << " " << weight_sum(*o.best_model) << "\n";
  }
}

// Two process groups formed and used side by side by two threads (as two training instances of one pipeline run
// at once), the second 0.3 s after the first, in opposite orders on the two ranks. Returns whether every average came
// out right.
bool concurrent_groups(const train::DistributedEnv& env) {
  std::atomic<bool> ok{true};
  auto use = [&](const std::string& name, double scale) {
    try {
      train::ProcessGroup group(env, std::chrono::seconds(20), name);
      for (int i = 0; i < 50; ++i) {
        at::Tensor t = torch::full({8}, scale * (env.rank + 1), torch::kFloat);
        group.average({t});
        ok = ok && std::abs(t[7].item<double>() - scale * (env.world_size + 1) / 2.0) < 1e-6;
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "train_worker: group %s: %s\n", name.c_str(), e.what());
      ok = false;
    }
  };
  const bool flip = env.rank % 2 == 1;
  std::thread a([&] { use(flip ? "b" : "a", flip ? 10.0 : 1.0); });
  std::thread b([&] {
    // Later: a rank's first group is already waiting for its peer when the second one forms.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    use(flip ? "a" : "b", flip ? 1.0 : 10.0);
  });
  a.join();
  b.join();
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: train_worker trainer_seq|trainer_token|dynabert|concurrent_groups OUT_FILE\n");
    return 2;
  }
  try {
    at::set_num_threads(1);
    const std::string mode = argv[1];
    const train::DistributedEnv env = train::DistributedEnv::from_environment();
    std::ofstream file;
    if (env.is_main()) file.open(argv[2]);
    file << std::setprecision(17);
    std::ostream* out = env.is_main() ? &file : nullptr;
    if (mode == "trainer_seq") {
      train_test::OrderTask task;
      task.train = train_test::order_dataset(101, 1);
      run_trainer(task, start_model(train_test::tiny_config(1), nn::TaskHead::SequenceClassification, env.rank),
                  worker_args(12, 1e-2), out);  // learns within the 20 steps: accuracy 0.56 -> 0.89
    } else if (mode == "trainer_token") {
      pruning_test::LabelTask task(nn::TaskHead::TokenClassification);
      const auto config = pruning_test::tiny_config(2, 4);
      task.train = std::make_shared<pruning_test::LabelledFeatures>(49, 8, config.vocab_size, 3, true, 21);
      task.eval = std::make_shared<pruning_test::LabelledFeatures>(32, 8, config.vocab_size, 3, true, 22);
      run_trainer(task, start_model(config, nn::TaskHead::TokenClassification, env.rank), worker_args(8), out);
    } else if (mode == "dynabert") {
      run_dynabert(env.rank, out);
    } else if (mode == "concurrent_groups") {
      if (!concurrent_groups(env)) return 1;
      if (out) *out << "ok\n";
    } else {
      std::fprintf(stderr, "train_worker: unknown mode '%s'\n", mode.c_str());
      return 2;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_worker: %s\n", e.what());
    return 1;
  }
}
