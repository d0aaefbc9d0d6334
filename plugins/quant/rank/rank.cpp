// rank: the Strategy (rank.hpp): its settings, the order of its steps, its parameters.
#include "rank.hpp"

#include <cmath>
#include <iomanip>
#include <sstream>
#include <thread>

#include "slimpipe/io/model_folder.hpp"
#include "slimpipe/plugin.hpp"

namespace slimpipe::ranking {

std::string sqnr_text(double db) { return db >= 999.0 ? "∞ (identical)" : fixed(db, 1); }

std::string interval_text(const std::optional<metrics::Interval>& i) {
  return i ? "[" + signed_fixed(i->low, 2) + ", " + signed_fixed(i->high, 2) + "]" : "";
}

Json interval_json(const std::optional<metrics::Interval>& i) {
  return i ? Json::array({i->low, i->high}) : Json(nullptr);
}

namespace {

bool set(const Params& p, const std::string& key) { return p.has(key) && !p.raw(key).is_null(); }

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
  s.latency_tolerance = p.get_float("latency_tolerance");
  if (!(s.latency_tolerance >= 0 && s.latency_tolerance < 1))
    throw Error("rank: latency_tolerance must be in [0, 1) (a fraction of the slower p50), got " +
                fixed(s.latency_tolerance, 3));
  s.baseline = p.get_string("baseline");
  s.evaluate = p.get_bool("evaluate");
  s.report_test = p.get_bool("report_test");
  s.max_seq = p.get_int("max_seq_length");
  s.eval_batch = p.get_int("per_device_eval_batch_size");
  s.bench = exporter::read_timing_rounds(ctx, p, "rank");
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
  io::check_before_publishing(*best.artifact, "rank");  // before its files are linked into out
  io::copy_model_files(best.artifact->dir(), out.dir());
  if (s_.bench.enabled && best.timing.exported_here) io::link_tree(best.timing.runtime_dir, out.dir() / "runtime");
  evaluate_test();
  write_files();
  write_manifest();
  std::string speed;
  if (const auto s = best.timing.timed() ? speedup(best.timing, 0) : std::nullopt)
    speed = ", " + fixed(*s, 2) + "x the fp32 baseline at batch " + std::to_string(s_.bench.options.batches[0]);
  ctx.log().info("rank: " + std::to_string(cands_.size()) + " candidates; best " + best.artifact->id() + " " +
                 best.primary + "=" + fixed(best.value, 2) +
                 (best.reference ? " (fp32 " + fixed(*best.reference, 2) + ")" : "") + speed +
                 (best.excluded.empty() ? "" : "; no candidate is eligible (" + best.excluded + ")"));
  ctx.log().info("ranking:\n" + table_md_);
}

constexpr const char* kFallbackMoved =
    "the layer fallback is a node of its own now: add [nodes.fallback] with type = \"fallback\", inputs = [\"<this "
    "rank node>\"], until_drop_below = D (and max_sites) (docs/quantization.md, \"Layer fallback\")";

Schema schema() {
  using T = ParamType;
  return exporter::with_timing_params(
      Schema()
          .param("max_metric_drop", T::Float, nullptr,
                 "largest allowed drop of the primary metric against the fp32 model, in metric points; unset: none")
          .param("evaluate", T::Bool, true,
                 "evaluate the baseline, every candidate and its fp32 model on the eval split example by example: Δ "
                 "with a "
                 "paired bootstrap interval, logit SQNR and prediction agreement against the candidate's fp32 model")
          .param(
              "report_test", T::Bool, true,
              "when the task has a test split: after the choice, evaluate the baseline and every candidate on it and "
              "report test beside dev (never used to choose)")
          .param("min_logit_sqnr_db", T::Float, 20.0,
                 "an INT8 candidate whose output logits have a lower SQNR against its fp32 model is never chosen")
          .param("latency_tolerance", T::Float, 0.10,
                 "among those, a candidate is faster than another only when, at every bench batch size, its p50 is "
                 "more than this fraction below the other's and its p90 below the other's p50; closer timings are "
                 "ties, decided by the metric")
          .param("fidelity_tolerance_db", T::Float, 1.0,
                 "among candidates within noise of the best metric, those within this many dB of the highest SQNR are "
                 "equally faithful; the fastest of them is chosen")
          .param("bootstrap_resamples", T::Int, 1000,
                 "paired bootstrap resamples of the eval examples; 0 = no intervals")
          .param("confidence", T::Float, 0.95, "two-sided confidence of the intervals")
          .param("per_device_eval_batch_size", T::Int, 32, "evaluation batch size")
          .param("max_seq_length", T::Int, 0, "tokenized sequence length; 0 = the task's max_seq_length")
          .param(
              "objective", T::String, "metric",
              "among candidates within max_metric_drop keep the highest metric, the lowest latency (first bench batch "
              "size) or the smallest",
              Json::array({"metric", "latency", "size"}))
          .param("baseline", T::String, "auto",
                 "speedups are against: \"auto\" = the fp32 model the candidates came from (through the manifests' "
                 "input_model), a candidate id, or \"none\"")
          .retired("fallback_until_drop_below", kFallbackMoved)
          .retired("fallback_max_sites", kFallbackMoved));
}

}  // namespace slimpipe::ranking

SLIMPIPE_PLUGIN(
    slimpipe::ranking::Rank, "rank", "1.4.0",
    "rank every candidate (metric, Δ with interval vs the user's model, logit SQNR, agreement, size, runtime "
    "latency), keep the best by a noise-aware rule",
    slimpipe::ranking::schema)
