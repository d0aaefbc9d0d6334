// Latency of a loaded model on random token ids: what `slimpipe bench` prints and what the `rank` strategy
// records for every candidate. Timing only; no LibTorch.
#pragma once

#include <cstdint>
#include <vector>

#include "slimpipe_runtime/runtime.hpp"

namespace slimpipe_runtime {

struct BenchOptions {
  std::vector<std::int64_t> batches{1, 32};  // each > 0
  std::int64_t seq = 128;                    // 1 .. the model's max_position_embeddings
  int iters = 10;                            // timed runs per batch size (> 0)
  int warmup = 1;                            // untimed runs first (>= 0)
  double max_seconds = 30;                   // stop timing a batch size after this long, once 3 runs are in
  std::uint64_t seed = 42;                   // token ids: uniform in [1, vocab_size)
};

struct BenchPoint {
  std::int64_t batch = 0;
  std::vector<double> ms;  // every timed run, in order
  double p50_ms = 0, p90_ms = 0;
  double seq_per_s = 0;  // batch / p50
};

// Runs `model` on [batch, seq] inputs of random ids (no padding), per batch size in order. Throws Error naming
// the bad option (batch, seq beyond max_position_embeddings, iters).
std::vector<BenchPoint> benchmark(Model& model, const BenchOptions& options);

// Linear-interpolated percentile of `values` (p in [0, 1]); 0 for an empty vector.
double percentile(std::vector<double> values, double p);

}  // namespace slimpipe_runtime
