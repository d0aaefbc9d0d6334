// Timing models against each other (model_timing.hpp).
#include "slimpipe/export/model_timing.hpp"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <thread>

#include "slimpipe/export/runtime_export.hpp"
#include "slimpipe/io/checkpoint.hpp"
#include "slimpipe/numbers.hpp"
#include "slimpipe/quant/ptq.hpp"

namespace slimpipe::exporter {

namespace {

// One visit: load, warm up, time every batch size; the runs are appended to t.ms.
void time_once(ModelTiming& t, const TimingRounds& b) {
  if (t.runtime_dir.empty()) return;
  try {
    const PackageTiming timed = time_runtime_package(t.runtime_dir, b.options);
    t.precision = timed.precision;
    t.ms.resize(timed.ms.size());
    for (std::size_t i = 0; i < timed.ms.size(); ++i)
      t.ms[i].insert(t.ms[i].end(), timed.ms[i].begin(), timed.ms[i].end());
  } catch (const std::exception& e) {
    t.note = std::string("not timed: ") + e.what();
    t.runtime_dir.clear();
    t.ms.clear();
  }
}

void summarize(ModelTiming& t) {
  t.p50.clear();
  t.p90.clear();
  if (t.runtime_dir.empty()) return;
  for (const auto& runs : t.ms) {
    t.p50.push_back(percentile(runs, 0.5));
    t.p90.push_back(percentile(runs, 0.9));
  }
}

}  // namespace

void prepare_runtime(ModelTiming& t, const fs::path& scratch, Task* task, const std::string& device) {
  if (fs::exists(t.model_dir / "runtime" / kRuntimeJson)) {
    t.runtime_dir = t.model_dir / "runtime";
    return;
  }
  if (!task) {
    t.note = "not timed: no runtime/ export, and without a [task] the model's head is unknown";
    return;
  }
  // scratch/model_<hash>/runtime: the package takes its tokenizer from the folder it sits in (PackageSettings),
  // so the candidate's vocab.txt and tokenizer_config.json are copied beside it; the best candidate's export is
  // published as rank/runtime/ and must run from text like any other package.
  const fs::path holder = scratch / ("model_" + std::to_string(std::hash<std::string>{}(t.model_dir.string())));
  const fs::path dir = holder / "runtime";
  try {
    fs::create_directories(holder);
    for (const char* f : {"vocab.txt", "tokenizer_config.json"})
      if (fs::exists(t.model_dir / f)) fs::copy_file(t.model_dir / f, holder / f, fs::copy_options::overwrite_existing);
    io::LoadOptions load;
    load.head = task->head().head;
    load.device = device;
    io::LoadedModel model = io::load_model(t.model_dir, load);
    model.model->to(at::kCPU);
    if (t.kind == "quantized_model")
      export_runtime(*model.model, quant::load_plan(t.model_dir), dir);
    else
      export_runtime(*model.model, dir);
    t.runtime_dir = dir;
    t.exported_here = true;
  } catch (const std::exception& e) {
    std::error_code ec;
    fs::remove_all(holder, ec);
    t.note = std::string("not timed: ") + e.what();
  }
}

void time_all(const std::vector<ModelTiming*>& all, const TimingRounds& b, Context& ctx) {
  auto rounds = [&](const std::vector<ModelTiming*>& models, const std::string& phase) {
    ctx.progress().begin(phase, static_cast<std::int64_t>(models.size()) * b.rounds);
    std::int64_t done = 0;
    for (int r = 0; r < b.rounds; ++r) {
      for (std::size_t k = 0; k < models.size(); ++k) {
        ModelTiming& t = *models[r % 2 == 0 ? k : models.size() - 1 - k];
        time_once(t, b);
        ctx.progress().update(++done);
        ctx.throw_if_cancelled();
      }
    }
    ctx.progress().end();
    for (ModelTiming* t : models) summarize(*t);
  };
  rounds(all, "bench");
  for (int retry = 0; retry < b.retries; ++retry) {
    std::vector<ModelTiming*> spread;
    for (ModelTiming* t : all)
      if (t->timed() && t->spread() > b.max_spread) spread.push_back(t);
    if (spread.empty()) break;
    for (ModelTiming* t : spread) {
      t->ms.clear();  // the new rounds replace the disturbed ones
      t->remeasured += b.rounds;
    }
    rounds(spread, "bench (re-measuring " + std::to_string(spread.size()) + " spread)");
  }
  for (ModelTiming* t : all) t->noisy = t->timed() && t->spread() > b.max_spread;
}

Schema with_timing_params(Schema schema) {
  using T = ParamType;
  return schema
      .param("bench", T::Bool, true,
             "time the models with slimpipe_runtime (as `slimpipe bench`); a model without a runtime/ export is "
             "exported to scratch first")
      .param("bench_batches", T::IntList, Json::array({1, 32}), "batch sizes timed")
      .param("bench_seq", T::Int, 0, "sequence length timed; 0 = min(128, the model's max_position_embeddings)")
      .param("bench_iters", T::Int, 3, "timed runs per batch size and round")
      .param("bench_rounds", T::Int, 2, "rounds over all models, in alternating order; p50/p90 over every run")
      .param(
          "bench_max_spread", T::Float, 1.3,
          "a model whose p90/p50 (any batch size) exceeds this is timed again; still above after bench_retries: noisy")
      .param("bench_retries", T::Int, 1, "how many times a spread model is timed again (bench_rounds rounds each)")
      .param("bench_max_seconds", T::Float, 10.0,
             "per model, batch size and round: stop after this long once 3 runs are in")
      .param("bench_threads", T::Int, 0, "threads of the timed runs; 0 = the instance's threads_per_instance");
}

TimingRounds read_timing_rounds(Context& ctx, const Params& p, const std::string& who) {
  TimingRounds b;
  b.enabled = p.get_bool("bench");
  const auto batches = p.get_int_list("bench_batches");
  b.options.batches.assign(batches.begin(), batches.end());
  if (b.enabled && b.options.batches.empty())
    throw Error(who + ": bench_batches is empty (expected batch sizes such as [1, 32])");
  for (auto x : b.options.batches)
    if (x <= 0) throw Error(who + ": bench_batches must be > 0, got " + std::to_string(x));
  b.options.seq = p.get_int("bench_seq");
  if (b.options.seq < 0)
    throw Error(who + ": bench_seq must be >= 0 (0 = min(128, max_position_embeddings)), got " +
                std::to_string(b.options.seq));
  b.options.iters = static_cast<int>(p.get_int("bench_iters"));
  if (b.options.iters <= 0) throw Error(who + ": bench_iters must be > 0, got " + std::to_string(b.options.iters));
  b.options.max_seconds = p.get_float("bench_max_seconds");
  b.max_spread = p.get_float("bench_max_spread");
  if (!(b.max_spread >= 1.0))
    throw Error(who + ": bench_max_spread must be >= 1 (a p90/p50 ratio), got " + fixed(b.max_spread, 3));
  b.retries = static_cast<int>(p.get_int("bench_retries"));
  if (b.retries < 0) throw Error(who + ": bench_retries must be >= 0, got " + std::to_string(b.retries));
  b.rounds = static_cast<int>(p.get_int("bench_rounds"));
  if (b.rounds <= 0) throw Error(who + ": bench_rounds must be > 0, got " + std::to_string(b.rounds));
  const std::int64_t threads = p.get_int("bench_threads");
  b.options.threads =
      threads > 0
          ? static_cast<int>(threads)
          : (ctx.threads() > 0 ? ctx.threads() : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  return b;
}

std::string omp_wait_policy() {
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  return policy ? policy : "default";
}

}  // namespace slimpipe::exporter
