// Times one training step of a 4-layer, 256-hidden BERT (batch 32, seq 128) in slimpipe, then the same
// step in PyTorch through /usr/bin/python3 (train_step.py), and prints ms/step for both and the ratio.
#include <torch/nn/functional/loss.h>
#include <torch/types.h>

#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "slimpipe/nn/task_model.hpp"
#include "slimpipe/train/optimizer.hpp"
#include "slimpipe/train/weight_init.hpp"

namespace {

struct Options {
  int batch = 32, seq = 128, layers = 4, hidden = 256, heads = 4, ffn = 1024, vocab = 30522;
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  int warmup = 2, steps = 5;
  bool python = true;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    auto is = [&](const char* name) { return std::strcmp(argv[i], name) == 0 && i + 1 < argc; };
    if (is("--batch")) o.batch = std::atoi(argv[++i]);
    else if (is("--seq")) o.seq = std::atoi(argv[++i]);
    else if (is("--threads")) o.threads = std::atoi(argv[++i]);
    else if (is("--warmup")) o.warmup = std::atoi(argv[++i]);
    else if (is("--steps")) o.steps = std::atoi(argv[++i]);
    else if (std::strcmp(argv[i], "--no-python") == 0) o.python = false;
    else {
      std::fprintf(stderr, "usage: train_step_bench [--batch N] [--seq N] [--threads N] [--warmup N] [--steps N] [--no-python]\n");
      std::exit(2);
    }
  }
  return o;
}

// The slimpipe step: what Trainer::training_step does, minus the Task's virtual loss call.
double slimpipe_ms_per_step(const Options& o) {
  using namespace slimpipe;
  at::set_num_threads(o.threads);
  torch::manual_seed(0);
  nn::EncoderConfig c;
  c.vocab_size = o.vocab;
  c.hidden_size = o.hidden;
  c.num_hidden_layers = o.layers;
  c.num_attention_heads = o.heads;
  c.intermediate_size = o.ffn;
  nn::TaskModel model(c, nn::TaskHead::SequenceClassification);
  train::init_bert_weights(*model);
  model->train();
  train::TrainingArguments args;
  args.learning_rate = 1e-4;
  args.weight_decay = 0.01;
  args.lr_scheduler_type = "constant";
  train::TrainingOptimizer opt(*model, args, o.warmup + o.steps);
  nn::EncoderInputs in;
  in.input_ids = torch::randint(0, o.vocab, {o.batch, o.seq}, torch::kLong);
  in.attention_mask = torch::ones({o.batch, o.seq}, torch::kLong);
  const auto labels = torch::randint(0, 2, {o.batch}, torch::kLong);
  auto step = [&] {
    opt.zero_grad();
    auto loss = torch::nn::functional::cross_entropy(model->forward(in).logits, labels);
    loss.backward();
    opt.apply();
  };
  for (int i = 0; i < o.warmup; ++i) step();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < o.steps; ++i) step();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / o.steps;
}

double python_ms_per_step(const Options& o, std::string& detail) {
  // Debian's python3-torch lives in /usr/bin/python3; a python3 earlier on PATH may be another one.
  const std::string cmd = std::string("/usr/bin/python3 ") + SLIMPIPE_TRAIN_BENCH_DIR + "/train_step.py" +
                          " --batch " + std::to_string(o.batch) + " --seq " + std::to_string(o.seq) +
                          " --threads " + std::to_string(o.threads) + " --warmup " + std::to_string(o.warmup) +
                          " --steps " + std::to_string(o.steps);
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

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  std::printf("training step: BERT %d layers, hidden %d, %d heads, FFN %d, vocab %d; batch %d x seq %d; "
              "%d threads; %d warm-up + %d timed steps\n",
              o.layers, o.hidden, o.heads, o.ffn, o.vocab, o.batch, o.seq, o.threads, o.warmup, o.steps);
  const double ours = slimpipe_ms_per_step(o);
  std::printf("%-28s %10.1f ms/step\n", "slimpipe (LibTorch C++)", ours);
  std::fflush(stdout);
  if (!o.python) return 0;
  std::string detail;
  const double theirs = python_ms_per_step(o, detail);
  if (theirs < 0) {
    std::printf("python side failed (needs /usr/bin/python3 with torch)\n");
    return 1;
  }
  std::printf("%-28s %10.1f ms/step   (%s)\n", "PyTorch (python3, torch.nn)", theirs, detail.c_str());
  std::printf("%-28s %10.2f  (slimpipe / python; < 1 is faster)\n", "ratio", ours / theirs);
  return 0;
}
