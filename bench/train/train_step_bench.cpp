// Times one training step of a 4-layer, 256-hidden BERT (batch 32, seq 128) in slimpipe, then the same
// step in PyTorch through /usr/bin/python3 (train_step.py), and prints ms/step for both and the ratio.
// --rounds N alternates the two N times and compares the medians, so a load that drifts on a shared
// machine hits both sides alike.
#include <ATen/Parallel.h>
#include <torch/nn/functional/loss.h>
#include <torch/types.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "slimpipe/allocator.hpp"
#include "slimpipe/nn/task_model.hpp"
#include "slimpipe/train/optimizer.hpp"
#include "slimpipe/train/weight_init.hpp"

namespace {

struct Options {
  int batch = 32, seq = 128, layers = 4, hidden = 256, heads = 4, ffn = 1024, vocab = 30522;
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  int warmup = 2, steps = 5;
  int rounds = 1;  // > 1: alternate slimpipe and python rounds and compare medians (a shared machine's load drifts)
  bool python = true;
  bool stock_malloc = false;  // skip slimpipe's malloc settings (what the slimpipe CLI sets at start)
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    auto is = [&](const char* name) { return std::strcmp(argv[i], name) == 0 && i + 1 < argc; };
    if (is("--batch"))
      o.batch = std::atoi(argv[++i]);
    else if (is("--seq"))
      o.seq = std::atoi(argv[++i]);
    else if (is("--threads"))
      o.threads = std::atoi(argv[++i]);
    else if (is("--warmup"))
      o.warmup = std::atoi(argv[++i]);
    else if (is("--steps"))
      o.steps = std::atoi(argv[++i]);
    else if (is("--rounds"))
      o.rounds = std::max(1, std::atoi(argv[++i]));
    else if (std::strcmp(argv[i], "--no-python") == 0)
      o.python = false;
    else if (std::strcmp(argv[i], "--stock-malloc") == 0)
      o.stock_malloc = true;
    else {
      std::fprintf(stderr,
                   "usage: train_step_bench [--batch N] [--seq N] [--threads N] [--warmup N] [--steps N] [--rounds N] "
                   "[--no-python] [--stock-malloc]\n");
      std::exit(2);
    }
  }
  return o;
}

// The slimpipe step: what Trainer::training_step does, minus the Task's virtual loss call. The model and
// optimizer live across rounds; the first call also runs the warm-up steps.
class SlimpipeStep {
 public:
  explicit SlimpipeStep(const Options& o)
      : o_(o),
        model_(config(o), slimpipe::nn::TaskHead::SequenceClassification),
        opt_(init(), args(), o.warmup + o.steps * o.rounds) {
    in_.input_ids = torch::randint(0, o.vocab, {o.batch, o.seq}, torch::kLong);
    in_.attention_mask = torch::ones({o.batch, o.seq}, torch::kLong);
    labels_ = torch::randint(0, 2, {o.batch}, torch::kLong);
  }

  double ms_per_step() {
    for (; warmed_ < o_.warmup; ++warmed_) step();
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < o_.steps; ++i) step();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / o_.steps;
  }

 private:
  static slimpipe::nn::EncoderConfig config(const Options& o) {
    at::set_num_threads(o.threads);
    torch::manual_seed(0);
    slimpipe::nn::EncoderConfig c;
    c.vocab_size = o.vocab;
    c.hidden_size = o.hidden;
    c.num_hidden_layers = o.layers;
    c.num_attention_heads = o.heads;
    c.intermediate_size = o.ffn;
    return c;
  }
  slimpipe::nn::TaskModelImpl& init() {
    slimpipe::train::init_bert_weights(*model_);
    model_->train();
    return *model_;
  }
  static slimpipe::train::TrainingArguments args() {
    slimpipe::train::TrainingArguments a;
    a.learning_rate = 1e-4;
    a.weight_decay = 0.01;
    a.lr_scheduler_type = "constant";
    return a;
  }
  void step() {
    opt_.zero_grad();
    auto loss = torch::nn::functional::cross_entropy(model_->forward(in_).logits, labels_);
    loss.backward();
    opt_.apply();
  }

  Options o_;
  slimpipe::nn::TaskModel model_;
  slimpipe::train::TrainingOptimizer opt_;
  slimpipe::nn::EncoderInputs in_;
  torch::Tensor labels_;
  int warmed_ = 0;
};

double python_ms_per_step(const Options& o, std::string& detail) {
  // Debian's python3-torch lives in /usr/bin/python3; a python3 earlier on PATH may be another one.
  const std::string cmd = std::string("/usr/bin/python3 ") + SLIMPIPE_TRAIN_BENCH_DIR + "/train_step.py" + " --batch " +
                          std::to_string(o.batch) + " --seq " + std::to_string(o.seq) + " --threads " +
                          std::to_string(o.threads) + " --warmup " + std::to_string(o.warmup) + " --steps " +
                          std::to_string(o.steps);
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return -1;
  char line[512];
  double ms = -1;
  while (std::fgets(line, sizeof line, p))
    if (std::sscanf(line, "python_ms_per_step %lf", &ms) == 1) {
      detail = line;
      detail = detail.substr(detail.find("torch"));
      while (!detail.empty() && (detail.back() == '\n' || detail.back() == '\r')) detail.pop_back();
    }
  ::pclose(p);
  return ms;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  // The C++ side runs as the slimpipe CLI does (it tunes malloc at start); python3 keeps glibc's defaults.
  std::printf("slimpipe side: %s\n", o.stock_malloc ? "malloc: glibc defaults (--stock-malloc)"
                                                    : slimpipe::tune_allocator_for_tensors().c_str());
  std::printf(
      "training step: BERT %d layers, hidden %d, %d heads, FFN %d, vocab %d; batch %d x seq %d; "
      "%d threads; %d warm-up + %d timed steps; %d round(s)\n",
      o.layers, o.hidden, o.heads, o.ffn, o.vocab, o.batch, o.seq, o.threads, o.warmup, o.steps, o.rounds);
  SlimpipeStep slimpipe_step(o);
  std::vector<double> ours, theirs;
  std::string detail;
  for (int round = 1; round <= o.rounds; ++round) {
    ours.push_back(slimpipe_step.ms_per_step());
    std::printf("%-28s %10.1f ms/step%s\n", "slimpipe (LibTorch C++)", ours.back(),
                o.rounds > 1 ? ("   (round " + std::to_string(round) + ")").c_str() : "");
    std::fflush(stdout);
    if (!o.python) continue;
    theirs.push_back(python_ms_per_step(o, detail));
    if (theirs.back() < 0) {
      std::printf("python side failed (needs /usr/bin/python3 with torch)\n");
      return 1;
    }
    std::printf("%-28s %10.1f ms/step   (%s)\n", "PyTorch (python3, torch.nn)", theirs.back(), detail.c_str());
    std::fflush(stdout);
  }
  if (!o.python) return 0;
  if (o.rounds > 1)
    std::printf("%-28s %10.1f vs %.1f ms/step (medians over %d alternating rounds)\n", "median", median(ours),
                median(theirs), o.rounds);
  std::printf("%-28s %10.2f  (slimpipe / python; < 1 is faster)\n", "ratio", median(ours) / median(theirs));
  return 0;
}
