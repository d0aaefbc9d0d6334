// Timing several models against each other: each one's slimpipe_runtime package (its folder's runtime/, or one
// exported to scratch), timed in alternating rounds, spread figures re-measured (docs/quantization.md, "How rank
// chooses"). What rank and fallback time with; a third-party strategy can use it the same way.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "slimpipe/export.hpp"
#include "slimpipe/export/runtime_timing.hpp"
#include "slimpipe/params.hpp"
#include "slimpipe/strategy.hpp"

namespace slimpipe::exporter {

namespace fs = std::filesystem;

// Runtime latency of one model: its slimpipe_runtime export (the artifact's runtime/, or one made in the scratch
// folder), timed at every bench batch size.
struct SLIMPIPE_API ModelTiming {
  fs::path model_dir;    // the HF folder
  std::string kind;      // "model" (fp32) or "quantized_model"
  fs::path runtime_dir;  // empty until prepared
  bool exported_here = false;
  std::string precision;                // the runtime's "fp32" / "int8"
  std::string note;                     // why it was not timed
  std::vector<std::vector<double>> ms;  // per bench batch: every run, over all rounds
  std::vector<double> p50, p90;
  bool noisy = false;  // p90/p50 stayed above bench_max_spread after re-measuring
  int remeasured = 0;  // extra rounds spent on it
  bool timed() const { return !p50.empty(); }
  // The largest p90/p50 over the bench batch sizes (1 when untimed).
  double spread() const {
    double worst = 1.0;
    for (std::size_t i = 0; i < p50.size(); ++i)
      if (p50[i] > 0) worst = std::max(worst, p90[i] / p50[i]);
    return worst;
  }
};

struct SLIMPIPE_API TimingRounds {
  bool enabled = true;
  TimingOptions options;  // batches, seq, iters, warmup, max_seconds, threads per visit
  int rounds = 2;
  double max_spread = 1.3;  // p90/p50 above this: timed again
  int retries = 1;          // how many times
};

// Makes (or finds) the runtime export of t (under `scratch` when the folder has none; `task` gives the head).
// Failures are recorded in t.note, not thrown: a model the runtime cannot run is still judged by its metric.
SLIMPIPE_API void prepare_runtime(ModelTiming& t, const fs::path& scratch, Task* task, const std::string& device);

// Times every model in rounds, alternating the visiting order, so that a machine that speeds up or slows down
// during the step does not favour the models timed first. A model whose p90/p50 exceeds b.max_spread (a core
// shared with other work) is timed again, `rounds` more rounds among the models still spread, up to b.retries
// times; one still spread after that is marked noisy.
SLIMPIPE_API void time_all(const std::vector<ModelTiming*>& all, const TimingRounds& b, Context& ctx);

// The bench_* parameters (bench, bench_batches, bench_seq, bench_iters, bench_rounds, bench_max_spread, bench_retries,
// bench_max_seconds, bench_threads) appended to `schema`, and read back; `who` names the plugin in errors.
SLIMPIPE_API Schema with_timing_params(Schema schema);
SLIMPIPE_API TimingRounds read_timing_rounds(Context& ctx, const Params& p, const std::string& who);

// libgomp's wait policy as the environment set it when the process started (docs/runtime.md, "Threading"): with
// more than one thread on shared cores, the default spinning wait makes timings unrepeatable.
SLIMPIPE_API std::string omp_wait_policy();

}  // namespace slimpipe::exporter
