// rank: the Strategy (rank.hpp): its settings, the order of its steps, its parameters.
#include "rank.hpp"

#include <cmath>
#include <iomanip>
#include <sstream>
#include <thread>

#include "publish.hpp"
#include "slimpipe/plugin.hpp"

namespace slimpipe::ranking {

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

std::string signed_fixed(double v, int digits) {
  if (std::fabs(v) < 0.5 * std::pow(10.0, -digits)) v = 0.0;  // no "-0.00"
  return (v > 0 ? "+" : "") + fixed(v, digits);
}

std::string sqnr_text(double db) { return db >= 999.0 ? "∞ (identical)" : fixed(db, 1); }

std::string interval_text(const std::optional<metrics::Interval>& i) {
  return i ? "[" + signed_fixed(i->low, 2) + ", " + signed_fixed(i->high, 2) + "]" : "";
}

Json interval_json(const std::optional<metrics::Interval>& i) {
  return i ? Json::array({i->low, i->high}) : Json(nullptr);
}

namespace {

bool set(const Params& p, const std::string& key) { return p.has(key) && !p.raw(key).is_null(); }

BenchSettings bench_settings(Context& ctx, const Params& p) {
  BenchSettings b;
  b.enabled = p.get_bool("bench");
  const auto batches = p.get_int_list("bench_batches");
  b.options.batches.assign(batches.begin(), batches.end());
  if (b.enabled && b.options.batches.empty())
    throw Error("rank: bench_batches is empty (expected batch sizes such as [1, 32])");
  for (auto x : b.options.batches)
    if (x <= 0) throw Error("rank: bench_batches must be > 0, got " + std::to_string(x));
  b.options.seq = p.get_int("bench_seq");
  if (b.options.seq < 0)
    throw Error("rank: bench_seq must be >= 0 (0 = min(128, max_position_embeddings)), got " +
                std::to_string(b.options.seq));
  b.options.iters = static_cast<int>(p.get_int("bench_iters"));
  if (b.options.iters <= 0) throw Error("rank: bench_iters must be > 0, got " + std::to_string(b.options.iters));
  b.options.max_seconds = p.get_float("bench_max_seconds");
  b.max_spread = p.get_float("bench_max_spread");
  if (!(b.max_spread >= 1.0))
    throw Error("rank: bench_max_spread must be >= 1 (a p90/p50 ratio), got " + fixed(b.max_spread, 3));
  b.retries = static_cast<int>(p.get_int("bench_retries"));
  if (b.retries < 0) throw Error("rank: bench_retries must be >= 0, got " + std::to_string(b.retries));
  b.rounds = static_cast<int>(p.get_int("bench_rounds"));
  if (b.rounds <= 0) throw Error("rank: bench_rounds must be > 0, got " + std::to_string(b.rounds));
  const std::int64_t threads = p.get_int("bench_threads");
  b.options.threads =
      threads > 0
          ? static_cast<int>(threads)
          : (ctx.threads() > 0 ? ctx.threads() : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  return b;
}

}  // namespace

Settings Settings::read(Context& ctx, const Params& p) {
  Settings s;
  s.has_max_drop = set(p, "max_metric_drop");
  s.max_drop = s.has_max_drop ? p.get_float("max_metric_drop") : 0.0;
  s.objective = p.get_string("objective");
  s.min_sqnr = p.get_float("min_logit_sqnr_db");
  s.fidelity_tolerance = p.get_float("fidelity_tolerance_db");
  s.confidence = p.get_float("confidence");
  s.resamples = static_cast<int>(p.get_int("bootstrap_resamples"));
  if (!(s.confidence > 0 && s.confidence < 1))
    throw Error("rank: confidence must be in (0, 1), got " + fixed(s.confidence, 3));
  if (s.resamples < 0) throw Error("rank: bootstrap_resamples must be >= 0, got " + std::to_string(s.resamples));
  if (!(s.fidelity_tolerance >= 0)) throw Error("rank: fidelity_tolerance_db must be >= 0");
  s.baseline = p.get_string("baseline");
  s.evaluate = p.get_bool("evaluate");
  s.report_test = p.get_bool("report_test");
  s.max_seq = p.get_int("max_seq_length");
  s.eval_batch = p.get_int("per_device_eval_batch_size");
  if (set(p, "fallback_until_drop_below")) s.fallback_until = p.get_float("fallback_until_drop_below");
  s.fallback_max_sites = p.get_int("fallback_max_sites");
  s.bench = bench_settings(ctx, p);
  if (s.objective == "latency" && !s.bench.enabled) throw Error("rank: objective = \"latency\" needs bench = true");
  return s;
}

void Rank::run(Context& ctx, const std::vector<Artifact>& inputs, const Params& p) {
  ctx_ = &ctx;
  s_ = Settings::read(ctx, p);
  describe(inputs);
  find_models();
  evaluate_dev();
  mark_eligible();
  time_models();
  choose();
  const Candidate& best = cands_[order_.front()];
  auto& out = ctx.output();
  check_before_publishing(*best.artifact);  // before the fallback reads it or its files are linked into out
  const std::optional<double> reference = fallback_reference();
  if (s_.fallback_until && best.quantized() && reference && *reference - best.value > *s_.fallback_until) {
    fall_back(best, *reference);
  } else {
    copy_model_files(best.artifact->dir(), out.dir());
    if (s_.bench.enabled && best.timing.exported_here) link_tree(best.timing.runtime_dir, out.dir() / "runtime");
  }
  evaluate_test();
  write_files();
  write_manifest();
  std::string speed;
  if (const auto s = best.timing.timed() ? speedup(best.timing, 0) : std::nullopt)
    speed = ", " + fixed(*s, 2) + "x the fp32 baseline at batch " + std::to_string(s_.bench.options.batches[0]);
  ctx.log().info("rank: " + std::to_string(cands_.size()) + " candidates; best " + best.artifact->id() + " " +
                 best.primary + "=" + fixed(best.value, 2) +
                 (best.reference ? " (fp32 " + fixed(*best.reference, 2) + ")" : "") + speed +
                 (best.excluded.empty() ? "" : "; no candidate is eligible (" + best.excluded + ")") +
                 (fallback_.done ? "; after fallback " + fixed(fallback_.metrics.value, 2) : ""));
  ctx.log().info("ranking:\n" + table_md_);
}

Schema schema() {
  using T = ParamType;
  return Schema()
      .param("max_metric_drop", T::Float, nullptr,
             "largest allowed drop of the primary metric against the fp32 model, in metric points; unset: none")
      .param("fallback_until_drop_below", T::Float, nullptr,
             "chosen INT8 cell: return its most sensitive sites to fp32, one at a time, until it is at most this many "
             "points below the fp32 model it was quantized from; unset: no fallback")
      .param("fallback_max_sites", T::Int, 0, "at most this many sites go back to fp32; 0 = no limit")
      .param("evaluate", T::Bool, true,
             "evaluate the baseline, every candidate and its fp32 model on the eval split example by example: Δ with a "
             "paired bootstrap interval, logit SQNR and prediction agreement against the candidate's fp32 model")
      .param("report_test", T::Bool, true,
             "when the task has a test split: after the choice, evaluate the baseline and every candidate on it and "
             "report test beside dev (never used to choose)")
      .param("min_logit_sqnr_db", T::Float, 20.0,
             "an INT8 candidate whose output logits have a lower SQNR against its fp32 model is never chosen")
      .param("fidelity_tolerance_db", T::Float, 1.0,
             "among candidates within noise of the best metric, those within this many dB of the highest SQNR are "
             "equally faithful; the fastest of them is chosen")
      .param("bootstrap_resamples", T::Int, 1000, "paired bootstrap resamples of the eval examples; 0 = no intervals")
      .param("confidence", T::Float, 0.95, "two-sided confidence of the intervals")
      .param("per_device_eval_batch_size", T::Int, 32, "evaluation batch size (evaluate, fallback)")
      .param("max_seq_length", T::Int, 0, "tokenized sequence length; 0 = the task's max_seq_length")
      .param("objective", T::String, "metric",
             "among candidates within max_metric_drop keep the highest metric, the lowest latency (first bench batch "
             "size) or the smallest",
             Json::array({"metric", "latency", "size"}))
      .param("bench", T::Bool, true,
             "time every candidate and the fp32 baseline with slimpipe_runtime (as `slimpipe bench`); candidates "
             "without a runtime/ export are exported to scratch first")
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
      .param("bench_threads", T::Int, 0, "threads of the timed runs; 0 = the instance's threads_per_instance")
      .param("baseline", T::String, "auto",
             "speedups are against: \"auto\" = the fp32 model the candidates came from (through the manifests' "
             "input_model), a candidate id, or \"none\"");
}

}  // namespace slimpipe::ranking

SLIMPIPE_PLUGIN(
    slimpipe::ranking::Rank, "rank", "1.3.0",
    "rank every candidate (metric, Δ with interval vs the user's model, logit SQNR, agreement, size, runtime "
    "latency), keep the best by a noise-aware rule, optional INT8 layer fallback",
    slimpipe::ranking::schema)
