// Forward latency (LibTorch, eval, no grad) of an encoder pruned to a DynaBERT width against the unpruned
// model, at batch 1 and batch 32 (seq 128), in one run; prints median ms per forward and the ratio.
#include <ATen/Parallel.h>
#include <torch/types.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "slimpipe/nn/prune.hpp"
#include "slimpipe/nn/task_model.hpp"
#include "slimpipe/pruning/model_cost.hpp"
#include "slimpipe/pruning/width_config.hpp"
#include "slimpipe/train/weight_init.hpp"

namespace {

// Defaults: ERNIE 3.0-Medium's shape (6L-768H-12A, FFN 3072), the model of PaddleNLP's headline table.
struct Options {
  int layers = 6, hidden = 768, heads = 12, ffn = 3072, vocab = 30000, seq = 128;
  double width = 0.75;
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  int iters = 10, warmup = 2;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    auto is = [&](const char* name) { return std::strcmp(argv[i], name) == 0 && i + 1 < argc; };
    if (is("--layers"))
      o.layers = std::atoi(argv[++i]);
    else if (is("--hidden"))
      o.hidden = std::atoi(argv[++i]);
    else if (is("--heads"))
      o.heads = std::atoi(argv[++i]);
    else if (is("--ffn"))
      o.ffn = std::atoi(argv[++i]);
    else if (is("--seq"))
      o.seq = std::atoi(argv[++i]);
    else if (is("--width"))
      o.width = std::atof(argv[++i]);
    else if (is("--threads"))
      o.threads = std::atoi(argv[++i]);
    else if (is("--iters"))
      o.iters = std::atoi(argv[++i]);
    else if (is("--warmup"))
      o.warmup = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr,
                   "usage: dynabert_latency_bench [--layers N] [--hidden N] [--heads N] [--ffn N] [--seq N] "
                   "[--width W] [--threads N] [--iters N] [--warmup N]\n");
      std::exit(2);
    }
  }
  return o;
}

// Median wall times of `iters` forwards of each model after `warmup` untimed ones. The two models
// alternate, so load from other processes on a shared machine hits both alike.
std::pair<double, double> median_ms(slimpipe::nn::TaskModelImpl& a, slimpipe::nn::TaskModelImpl& b,
                                    const slimpipe::nn::EncoderInputs& in, int warmup, int iters) {
  torch::NoGradGuard no_grad;
  for (int i = 0; i < warmup; ++i) a.forward(in), b.forward(in);
  auto time = [&](slimpipe::nn::TaskModelImpl& m) {
    const auto t0 = std::chrono::steady_clock::now();
    m.forward(in);
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  };
  std::vector<double> ta, tb;
  for (int i = 0; i < iters; ++i) {
    ta.push_back(time(a));
    tb.push_back(time(b));
  }
  std::sort(ta.begin(), ta.end());
  std::sort(tb.begin(), tb.end());
  return {ta[ta.size() / 2], tb[tb.size() / 2]};
}

}  // namespace

int main(int argc, char** argv) {
  using namespace slimpipe;
  const Options o = parse(argc, argv);
  at::set_num_threads(o.threads);
  torch::manual_seed(0);
  nn::EncoderConfig c;
  c.vocab_size = o.vocab;
  c.hidden_size = o.hidden;
  c.num_hidden_layers = o.layers;
  c.num_attention_heads = o.heads;
  c.intermediate_size = o.ffn;
  c.max_position_embeddings = std::max(512, o.seq);
  c.num_labels = 2;
  nn::TaskModel full(c, nn::TaskHead::SequenceClassification);
  train::init_bert_weights(*full);
  full->eval();
  const auto width = pruning::WidthConfig::for_model(c, o.width);
  nn::TaskModel pruned = nn::prune(*full, width.heads, width.intermediate);
  pruned->eval();

  std::printf(
      "dynabert_latency_bench: %dL-%dH-%dA FFN %d, width %s (%lld heads, FFN %lld), seq %d, %d threads, "
      "median of %d forwards\n",
      o.layers, o.hidden, o.heads, o.ffn, pruning::width_text(o.width).c_str(), static_cast<long long>(width.heads[0]),
      static_cast<long long>(width.intermediate[0]), o.seq, o.threads, o.iters);
  std::printf(
      "parameters: full %lld, pruned %lld (%.3f); encoder FLOPs/token ratio %.3f\n",
      static_cast<long long>(pruning::parameter_count(*full)),
      static_cast<long long>(pruning::parameter_count(*pruned)),
      static_cast<double>(pruning::parameter_count(*pruned)) / static_cast<double>(pruning::parameter_count(*full)),
      pruning::encoder_flops_per_token(pruned->config(), o.seq) / pruning::encoder_flops_per_token(c, o.seq));
  std::printf("%-7s %-5s %12s %12s %9s\n", "batch", "seq", "full ms", "pruned ms", "speedup");
  for (int batch : {1, 32}) {
    nn::EncoderInputs in;
    in.input_ids = torch::randint(1, o.vocab, {batch, o.seq}, torch::kLong);
    in.attention_mask = torch::ones({batch, o.seq}, torch::kLong);
    const auto [f, p] = median_ms(*full, *pruned, in, o.warmup, o.iters);
    std::printf("%-7d %-5d %12.2f %12.2f %8.2fx\n", batch, o.seq, f, p, f / p);
  }
  return 0;
}
