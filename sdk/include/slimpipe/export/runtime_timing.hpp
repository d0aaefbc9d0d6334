// Latency of a slimpipe_runtime package (what export_runtime writes), measured by the installed runtime the way
// `slimpipe bench` measures it: random token ids, no padding, warm-up runs first. Strategies time models through
// this interface rather than linking the runtime themselves (rank does; a third-party strategy can too).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "slimpipe/export.hpp"

namespace slimpipe::exporter {

struct TimingOptions {
  std::vector<std::int64_t> batches{1, 32};  // each > 0
  std::int64_t seq = 0;                      // 0: min(128, the model's max_position_embeddings)
  int iters = 10;                            // timed runs per batch size (> 0)
  int warmup = 1;                            // untimed runs first (>= 0)
  double max_seconds = 30;                   // stop timing a batch size after this long, once 3 runs are in
  std::uint64_t seed = 42;                   // token ids: uniform in [1, vocab_size)
  int threads = 1;                           // the runtime's threads (process-wide while timing)
};

struct PackageTiming {
  std::string precision;                // the runtime's "fp32" or "int8"
  std::int64_t seq = 0;                 // the sequence length timed
  std::vector<std::vector<double>> ms;  // per options.batches entry: every timed run, in milliseconds
};

// Loads the package in `dir` (a runtime/ folder) and times it at every batch size. Throws Error naming the folder
// when the runtime cannot load or run it.
SLIMPIPE_API PackageTiming time_runtime_package(const std::filesystem::path& dir, const TimingOptions& options);

// Linear-interpolated percentile of `values` (p in [0, 1]); 0 for an empty vector.
SLIMPIPE_API double percentile(std::vector<double> values, double p);

// The instruction set the runtime dispatches to on this CPU, e.g. "avx512_core_vnni", "avx2".
SLIMPIPE_API std::string runtime_cpu_isa();

}  // namespace slimpipe::exporter
