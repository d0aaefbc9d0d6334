// rank strategy (collect = true): every candidate upstream (PTQ cells, pruned widths, ...) in one table with its
// metric and Δ against the user's model (a paired-bootstrap interval on the same eval examples), its output fidelity
// against the fp32 model it was made from (logit SQNR, prediction agreement) and its size; the chosen one is copied
// into this node's artifact (docs/quantization.md, "How rank chooses": eligible = within max_metric_drop and, for
// INT8, min_logit_sqnr_db; then within noise of the best metric, most faithful, fastest). Every candidate, the
// baseline and the candidates' fp32 models are timed with slimpipe_runtime (the engine behind `slimpipe bench`),
// re-measuring spread figures and marking noisy ones. With fallback_until_drop_below, the chosen INT8 cell's most
// sensitive sites go back to fp32 one at a time until it is close enough to its own fp32 model (INC / NNCF-style
// layer fallback).
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include "publish.hpp"
#include "slimpipe/export/qdq_export.hpp"
#include "slimpipe/export/runtime_export.hpp"
#include "slimpipe/io/checked_file.hpp"
#include "slimpipe/io/checkpoint.hpp"
#include "slimpipe/metrics/bootstrap.hpp"
#include "slimpipe/plugin.hpp"
#include "slimpipe/quant/ptq.hpp"
#include "slimpipe/quant/quant_error.hpp"
#include "slimpipe/strategy.hpp"
#include "slimpipe/tasks/data_source.hpp"
#include "slimpipe/tasks/example_scores.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"
#include "slimpipe_runtime/bench.hpp"
#include "slimpipe_runtime/runtime.hpp"
#include "timing.hpp"

namespace {

using namespace slimpipe;
using namespace slimpipe::ranking;
namespace fs = std::filesystem;

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

bool set(const Params& p, const std::string& key) { return p.has(key) && !p.raw(key).is_null(); }

struct Candidate {
  const Artifact* artifact = nullptr;
  Timing timing;
  std::string primary;
  double value = 0;
  std::optional<double> reference;  // the fp32 model's metric (the unpruned one when known)
  std::int64_t size_bytes = 0;
  bool meets = true;
  // Measured by rank on the eval split, example by example (evaluate = true and a task that scores per example).
  bool evaluated = false;
  std::optional<metrics::Interval> delta_ci;  // of value - reference, paired bootstrap
  std::optional<metrics::Interval> vs_best;   // of value - the best eligible candidate's value
  std::optional<double> sqnr_db;              // output logits against its fp32 model
  std::string sqnr_source;                    // "rank" (whole eval split) or "ptq" (the cell's manifest)
  std::optional<double> agreement;            // fraction of examples predicted as its fp32 model does
  std::string fp32_id;                        // that fp32 model (the input_model it was made from)
  std::string excluded;                       // why it cannot be chosen; empty: eligible
  bool within_noise = false;                  // its metric is within noise of the best eligible one
  // On the held-out test split, measured after every choice, only to report (report_test and a task with test).
  std::optional<double> test_value;
  std::optional<double> test_delta;  // against the baseline on the same test examples
  std::optional<metrics::Interval> test_delta_ci;
  bool quantized() const { return artifact->kind() == "quantized_model"; }
  double drop() const { return reference ? *reference - value : 0.0; }
};

double number(const Json& metrics, const std::string& key, const std::string& where) {
  if (!metrics.contains(key) || !metrics[key].is_number())
    throw Error(where + ": manifest metrics lack '" + key + "' (rank needs each candidate's primary metric)");
  return metrics[key].get<double>();
}

Candidate describe(const Artifact& a) {
  const Json& m = a.manifest();
  const std::string where = (a.dir() / "manifest.json").string();
  if (!m.contains("primary_metric") || !m["primary_metric"].is_string())
    throw Error(where + ": no primary_metric (rank takes model artifacts: finetune, dynabert, ptq outputs)");
  Candidate c;
  c.artifact = &a;
  c.primary = m["primary_metric"].get<std::string>();
  c.value = number(a.metrics(), c.primary, where);
  for (const std::string& key : {"origin_" + c.primary, "input_" + c.primary})
    if (a.metrics().contains(key) && a.metrics()[key].is_number()) {
      c.reference = a.metrics()[key].get<double>();
      break;
    }
  c.size_bytes = m.value("size_bytes_int8", m.value("size_bytes", std::int64_t{0}));
  c.timing.model_dir = a.dir();
  c.timing.kind = a.kind();
  return c;
}

// A model folder and its artifact id (the manifests' input_model records name both).
struct ModelRef {
  fs::path dir;
  std::string id;
};

// The fp32 model `a` was made from: its manifest's input_model (ptq and dynabert write it), when that folder holds
// a model.
std::optional<ModelRef> parent_model(const Json& m) {
  if (!m.contains("input_model") || !m["input_model"].is_object()) return std::nullopt;
  const fs::path dir = m["input_model"].value("dir", std::string());
  if (dir.empty() || !fs::exists(dir / "config.json")) return std::nullopt;
  std::string id = m["input_model"].value("id", std::string());
  return ModelRef{dir, id.empty() ? dir.string() : id};
}

// The furthest fp32 ancestor reachable through the manifests' input_model records: for a PTQ cell of a pruned
// width, the unpruned model the width was distilled from (the user's model).
std::optional<ModelRef> auto_baseline(const Artifact& a) {
  std::optional<ModelRef> found;
  Json m = a.manifest();
  for (int depth = 0; depth < 16; ++depth) {
    const auto parent = parent_model(m);
    if (!parent) break;
    found = parent;
    std::ifstream in(parent->dir / "manifest.json");
    if (!in) break;  // an external model folder: the chain ends there
    m = Json::parse(in, nullptr, false);
    if (m.is_discarded() || m.value("kind", std::string()) != "model") break;
  }
  return found;
}

std::string kind_of(const fs::path& dir) {
  std::ifstream in(dir / "manifest.json");
  const Json m = in ? Json::parse(in, nullptr, false) : Json();
  return m.is_object() && m.contains("kind") && m["kind"].is_string() ? m["kind"].get<std::string>() : "model";
}

// One model evaluated on the task's eval split (or `split`) example by example: the fp32 model as it is, a quantized
// one through its plan's fake-quant hook (the int8 arithmetic in float, as ptq evaluated it).
tasks::ExampleEvaluation evaluate_model(const fs::path& dir, bool quantized, Task& task,
                                        const tasks::ExampleScoring& scoring, const std::string& device,
                                        std::int64_t max_seq_length, std::int64_t batch,
                                        const std::string& split = "eval") {
  io::LoadOptions load;
  load.head = task.head().head;
  load.device = device;
  io::LoadedModel model = io::load_model(dir, load);
  const auto tokenizer = text::WordPieceTokenizer::from_directory(dir);
  const auto data = task.features(split, tokenizer, max_seq_length);
  if (!quantized) return scoring.evaluate_examples(*model.model, *data, batch);
  const quant::FakeQuantPlan plan = quant::load_plan(dir);
  return scoring.evaluate_examples(*model.model, *data, batch, quant::make_fake_quant_hook(plan));
}

std::string signed_fixed(double v, int digits) {
  if (std::fabs(v) < 0.5 * std::pow(10.0, -digits)) v = 0.0;  // no "-0.00"
  return (v > 0 ? "+" : "") + fixed(v, digits);
}

// SQNR in dB for a table; identical outputs (rank stores 999 for +inf) read as such.
std::string sqnr_text(double db) { return db >= 999.0 ? "∞ (identical)" : fixed(db, 1); }

std::string interval_text(const std::optional<metrics::Interval>& i) {
  return i ? "[" + signed_fixed(i->low, 2) + ", " + signed_fixed(i->high, 2) + "]" : "";
}

Json interval_json(const std::optional<metrics::Interval>& i) {
  return i ? Json::array({i->low, i->high}) : Json(nullptr);
}

std::string ms_text(const Timing& t, std::size_t i) { return t.timed() ? fixed(t.p50[i], t.p50[i] < 10 ? 3 : 1) : ""; }

class Rank final : public Strategy {
 public:
  using Interface = Strategy;

  void run(Context& ctx, const std::vector<Artifact>& inputs, const Params& p) override {
    if (inputs.empty()) throw Error("rank: no candidates (set collect = true and list the nodes to rank as inputs)");
    std::vector<Candidate> cands;
    for (const auto& a : inputs) cands.push_back(describe(a));
    for (const auto& c : cands)
      if (c.primary != cands.front().primary)
        throw Error("rank: candidates report different metrics ('" + cands.front().primary + "' and '" + c.primary +
                    "')");
    const bool has_max_drop = set(p, "max_metric_drop");
    const double max_drop = has_max_drop ? p.get_float("max_metric_drop") : 0.0;
    const Json max_drop_json = has_max_drop ? Json(max_drop) : Json(nullptr);
    const std::string objective = p.get_string("objective");
    const double min_sqnr = p.get_float("min_logit_sqnr_db");
    const double fidelity_tolerance = p.get_float("fidelity_tolerance_db");
    const double confidence = p.get_float("confidence");
    const int resamples = static_cast<int>(p.get_int("bootstrap_resamples"));
    if (!(confidence > 0 && confidence < 1))
      throw Error("rank: confidence must be in (0, 1), got " + fixed(confidence, 3));
    if (resamples < 0) throw Error("rank: bootstrap_resamples must be >= 0, got " + std::to_string(resamples));
    if (!(fidelity_tolerance >= 0)) throw Error("rank: fidelity_tolerance_db must be >= 0");

    // The baseline every Δ is against: the user's model (the furthest fp32 ancestor through input_model), or the
    // candidate `baseline` names. Speedups use it too unless baseline = "none".
    const std::string baseline_param = p.get_string("baseline");
    std::optional<ModelRef> base_ref;
    if (baseline_param == "auto" || baseline_param == "none") {
      base_ref = auto_baseline(inputs.front());
    } else {
      for (const auto& c : cands)
        if (c.artifact->id() == baseline_param) base_ref = ModelRef{c.artifact->dir(), c.artifact->id()};
      if (!base_ref)
        throw Error("rank: baseline '" + baseline_param +
                    "' is not one of the candidates (use \"auto\", \"none\" or a candidate id)");
    }
    // Each candidate's own fp32 model (what it was quantized or pruned from): fidelity is measured against it.
    std::map<std::string, ModelRef> parents;  // by id
    for (auto& c : cands)
      if (const auto parent = parent_model(c.artifact->manifest())) {
        c.fp32_id = parent->id;
        parents.emplace(parent->id, *parent);
      }
    // The parents that are neither candidates nor the baseline (the pruned widths): rows of their own, by id.
    std::vector<ModelRef> own_parents;
    for (const auto& [id, ref] : parents) {
      const bool candidate =
          std::any_of(cands.begin(), cands.end(), [&](const Candidate& c) { return c.artifact->id() == id; });
      if (!candidate && (!base_ref || id != base_ref->id)) own_parents.push_back(ref);
    }

    // Every candidate, its fp32 model and the baseline on the same eval examples: Δ with a paired bootstrap
    // interval, logit SQNR and prediction agreement against the candidate's fp32 model.
    Json evaluation = {{"enabled", p.get_bool("evaluate")}};
    std::optional<double> base_measured;
    std::map<std::string, std::optional<metrics::Interval>> model_ci;  // non-candidate models (parents) vs baseline
    std::map<std::string, double> model_metric;
    const tasks::ExampleScoring* scoring =
        ctx.has_task() ? dynamic_cast<const tasks::ExampleScoring*>(&ctx.task()) : nullptr;
    if (p.get_bool("evaluate") && !scoring) {
      const std::string why =
          ctx.has_task() ? "the task does not score example by example" : "the pipeline has no [task]";
      evaluation["note"] = "not evaluated: " + why + "; Δ without interval, SQNR from the ptq cells' manifests";
      ctx.log().warn("rank: " + evaluation["note"].get<std::string>());
    }
    std::map<std::string, tasks::ExampleEvaluation> fp32;  // by id: the baseline and the parents, evaluated
    if (p.get_bool("evaluate") && scoring) {
      if (ctx.threads() > 0) at::set_num_threads(ctx.threads());
      const std::int64_t max_seq = p.get_int("max_seq_length");
      const std::int64_t batch = p.get_int("per_device_eval_batch_size");
      std::vector<ModelRef> fp32_models;
      if (base_ref) fp32_models.push_back(*base_ref);
      for (const auto& [id, ref] : parents)
        if (!base_ref || id != base_ref->id) fp32_models.push_back(ref);
      ctx.progress().begin("evaluate", static_cast<std::int64_t>(fp32_models.size() + cands.size()));
      std::int64_t done = 0;
      for (const auto& m : fp32_models) {
        try {
          fp32.emplace(m.id, evaluate_model(m.dir, kind_of(m.dir) == "quantized_model", ctx.task(), *scoring,
                                            ctx.device(), max_seq, batch));
        } catch (const Error& e) {
          ctx.log().warn("rank: cannot evaluate fp32 model " + m.id + ": " + e.what());
        }
        ctx.progress().update(++done);
        ctx.throw_if_cancelled();
      }
      std::vector<tasks::ExampleEvaluation> evals(cands.size());
      std::vector<bool> have(cands.size(), false);
      for (std::size_t i = 0; i < cands.size(); ++i) {
        Candidate& c = cands[i];
        try {
          evals[i] =
              evaluate_model(c.artifact->dir(), c.quantized(), ctx.task(), *scoring, ctx.device(), max_seq, batch);
          have[i] = true;
        } catch (const Error& e) {
          ctx.log().warn("rank: cannot evaluate " + c.artifact->id() + ": " + e.what());
        }
        ctx.progress().update(++done);
        ctx.throw_if_cancelled();
        if (!have[i]) continue;
        const auto parent = fp32.find(c.fp32_id);
        if (parent == fp32.end()) continue;
        const auto& ref = parent->second;
        if (ref.outputs.size() == evals[i].outputs.size() && !ref.outputs.empty()) {
          auto blob = [](std::vector<float>& v) {
            return at::from_blob(v.data(), {static_cast<std::int64_t>(v.size())}, at::kFloat);
          };
          auto ref_outputs = ref.outputs;
          const quant::QuantError e = quant::quant_error(blob(ref_outputs), blob(evals[i].outputs));
          c.sqnr_db = std::isinf(e.sqnr_db) ? 999.0 : e.sqnr_db;
          c.sqnr_source = "rank";
        }
        if (ref.predictions.size() == evals[i].predictions.size() && !ref.predictions.empty())
          c.agreement = tasks::prediction_agreement(ref.predictions, evals[i].predictions);
      }
      ctx.progress().end();
      // The paired bootstrap: the baseline first, then every candidate and parent scored on the same examples.
      const auto base_eval = base_ref ? fp32.find(base_ref->id) : fp32.end();
      if (base_eval != fp32.end()) {
        std::vector<const metrics::ExampleStats*> models{&base_eval->second.stats};
        std::vector<std::size_t> cand_slot(cands.size(), 0);
        const std::int64_t n = base_eval->second.stats.examples();
        for (std::size_t i = 0; i < cands.size(); ++i)
          if (have[i] && evals[i].stats.examples() == n && evals[i].stats.width == base_eval->second.stats.width) {
            cand_slot[i] = models.size();
            models.push_back(&evals[i].stats);
          }
        std::map<std::string, std::size_t> parent_slot;
        for (const auto& [id, e] : fp32)
          if (id != base_ref->id && e.stats.examples() == n && e.stats.width == base_eval->second.stats.width) {
            parent_slot[id] = models.size();
            models.push_back(&e.stats);
          }
        const metrics::PairedBootstrap boot =
            metrics::paired_bootstrap(models, std::max(resamples, 1), static_cast<std::uint64_t>(ctx.seed()));
        base_measured = boot.full[0];
        for (std::size_t i = 0; i < cands.size(); ++i) {
          if (cand_slot[i] == 0) continue;
          Candidate& c = cands[i];
          c.evaluated = true;
          c.value = boot.full[cand_slot[i]];
          c.reference = boot.full[0];
          if (resamples > 0) c.delta_ci = metrics::difference_interval(boot, cand_slot[i], 0, confidence);
        }
        for (const auto& [id, slot] : parent_slot) {
          model_metric[id] = boot.full[slot];
          if (resamples > 0) model_ci[id] = metrics::difference_interval(boot, slot, 0, confidence);
        }
        model_metric[base_ref->id] = boot.full[0];
        // Which candidates are within noise of the best eligible one is decided below, from the same resamples.
        evaluation["examples"] = n;
        evaluation["baseline"] = base_ref->id;
        bootstrap_ = std::move(boot);
        slots_ = std::move(cand_slot);
      } else {
        evaluation["note"] = std::string(
            "no baseline evaluation: Δ against each candidate's manifest reference, "
            "without interval");
      }
      evaluation["resamples"] = resamples;
      evaluation["confidence"] = confidence;
      evaluation["seed"] = ctx.seed();
    }
    // Candidates rank could not evaluate keep the ptq cell's own logit SQNR (on its first sensitivity_samples
    // eval features, against the same fp32 model).
    for (auto& c : cands)
      if (!c.sqnr_db && c.artifact->metrics().contains("logit_sqnr_db") &&
          c.artifact->metrics()["logit_sqnr_db"].is_number()) {
        c.sqnr_db = c.artifact->metrics()["logit_sqnr_db"].get<double>();
        c.sqnr_source = "ptq";
      }
    for (auto& c : cands) {
      c.meets = !has_max_drop || c.drop() <= max_drop + 1e-12;
      if (!c.meets)
        c.excluded = "drop " + fixed(c.drop(), 2) + " > max_metric_drop " + fixed(max_drop, 2);
      else if (c.quantized() && c.sqnr_db && *c.sqnr_db < min_sqnr)
        c.excluded = "logit SQNR " + fixed(*c.sqnr_db, 1) + " dB < min_logit_sqnr_db " + fixed(min_sqnr, 1);
    }

    // Runtime latency of every candidate, of the baseline and of the candidates' fp32 models (a pruned width's
    // own speed, so the gains of pruning and of quantization read apart).
    const BenchSettings bench = bench_settings(ctx, p);
    Timing baseline;
    std::string baseline_label;
    std::map<std::string, Timing> parent_timing;  // by id, parents that are neither candidates nor the baseline
    if (bench.enabled) {
      if (baseline_param != "none" && base_ref) {
        baseline.model_dir = base_ref->dir;
        baseline.kind = kind_of(base_ref->dir);
        baseline_label = base_ref->id;
      }
      std::vector<Timing*> all;
      const fs::path scratch = ctx.scratch_dir();
      auto prepare = [&](Timing& t) {
        prepare_runtime(t, scratch, ctx.has_task() ? &ctx.task() : nullptr, ctx.device());
        if (!t.note.empty()) ctx.log().warn("rank: " + t.model_dir.string() + ": " + t.note);
        all.push_back(&t);
      };
      for (auto& c : cands) prepare(c.timing);
      auto candidate_at = [&](const fs::path& dir) -> const Candidate* {
        for (const auto& c : cands)
          if (fs::equivalent(c.artifact->dir(), dir)) return &c;
        return nullptr;
      };
      const Candidate* same = baseline.model_dir.empty() ? nullptr : candidate_at(baseline.model_dir);
      if (!baseline.model_dir.empty() && !same) prepare(baseline);
      for (const auto& [id, ref] : parents) {
        if (candidate_at(ref.dir) || (!baseline.model_dir.empty() && fs::equivalent(ref.dir, baseline.model_dir)))
          continue;
        Timing& t = parent_timing[id];
        t.model_dir = ref.dir;
        t.kind = kind_of(ref.dir);
      }
      for (auto& [id, t] : parent_timing) prepare(t);
      time_all(all, bench, ctx);
      if (same) baseline = same->timing;
    }
    auto speedup = [&](const Timing& t, std::size_t i) -> std::optional<double> {
      if (!t.timed() || !baseline.timed() || t.p50[i] <= 0) return std::nullopt;
      return baseline.p50[i] / t.p50[i];
    };

    // The choice (docs/quantization.md, "How rank chooses"). Eligible: within max_metric_drop and, for INT8
    // candidates, logit SQNR >= min_logit_sqnr_db. objective "metric": among the eligible candidates whose metric
    // is within noise of the best one (the upper end of the paired-bootstrap interval of candidate - best is >= 0),
    // those within fidelity_tolerance_db of the highest SQNR, then the fastest (p50 at the first bench batch size),
    // then the highest metric, then the smallest. "latency" / "size": the fastest / smallest eligible one.
    if (objective == "latency" && !bench.enabled) throw Error("rank: objective = \"latency\" needs bench = true");
    auto by_metric = [&](std::size_t a, std::size_t b) {
      const Candidate& x = cands[a];
      const Candidate& y = cands[b];
      if (x.excluded.empty() != y.excluded.empty()) return x.excluded.empty();
      if (x.value != y.value) return x.value > y.value;
      return x.size_bytes < y.size_bytes;
    };
    auto faster = [&](const Candidate& x, const Candidate& y) -> std::optional<bool> {
      if (x.timing.timed() != y.timing.timed()) return x.timing.timed();
      if (x.timing.timed() && x.timing.p50[0] != y.timing.p50[0]) return x.timing.p50[0] < y.timing.p50[0];
      return std::nullopt;
    };
    std::vector<std::size_t> order(cands.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      const Candidate& x = cands[a];
      const Candidate& y = cands[b];
      if (x.excluded.empty() != y.excluded.empty()) return x.excluded.empty();
      if (objective == "latency") {
        if (const auto f = faster(x, y)) return *f;
      } else if (objective == "size" && x.size_bytes != y.size_bytes) {
        return x.size_bytes < y.size_bytes;
      }
      return by_metric(a, b);
    });
    Json choice = {{"objective", objective}, {"min_logit_sqnr_db", min_sqnr}};
    const Candidate& top = cands[order.front()];
    if (objective == "metric" && top.excluded.empty()) {
      // `order` is by metric here: its first is the best eligible metric.
      const std::size_t best_metric = order.front();
      std::vector<std::size_t> noise_set;
      for (std::size_t k : order) {
        Candidate& c = cands[k];
        if (!c.excluded.empty()) continue;
        if (k == best_metric) {
          c.within_noise = true;
        } else if (bootstrap_ && slots_[k] && slots_[best_metric] && resamples > 0) {
          c.vs_best = metrics::difference_interval(*bootstrap_, slots_[k], slots_[best_metric], confidence);
          c.within_noise = c.vs_best->high >= 0;
        } else {
          c.within_noise = c.value == cands[best_metric].value;
        }
        if (c.within_noise) noise_set.push_back(k);
      }
      double best_sqnr = -std::numeric_limits<double>::infinity();
      for (std::size_t k : noise_set)
        if (cands[k].sqnr_db) best_sqnr = std::max(best_sqnr, *cands[k].sqnr_db);
      std::vector<std::size_t> faithful;
      for (std::size_t k : noise_set)
        if (std::isinf(best_sqnr) || (cands[k].sqnr_db && *cands[k].sqnr_db >= best_sqnr - fidelity_tolerance))
          faithful.push_back(k);
      std::size_t chosen = faithful.front();
      bool timed = false;  // whether latency decided anything (bench = false: the metric does)
      for (std::size_t k : faithful) {
        if (k == chosen) continue;
        const auto f = faster(cands[k], cands[chosen]);
        timed = timed || f.has_value();
        if (f ? *f : by_metric(k, chosen)) chosen = k;
      }
      order.erase(std::find(order.begin(), order.end(), chosen));
      order.insert(order.begin(), chosen);
      Json noise_ids = Json::array(), faithful_ids = Json::array();
      for (std::size_t k : noise_set) noise_ids.push_back(cands[k].artifact->id());
      for (std::size_t k : faithful) faithful_ids.push_back(cands[k].artifact->id());
      choice["best_metric"] = cands[best_metric].artifact->id();
      choice["best_metric_value"] = cands[best_metric].value;
      choice["within_noise"] = noise_ids;
      choice["within_fidelity_tolerance"] = faithful_ids;
      choice["decided_by"] = noise_set.size() == 1  ? "metric"
                             : faithful.size() == 1 ? "fidelity"
                             : timed                ? "latency"
                                                    : "metric";
    }
    const Candidate& best = cands[order.front()];
    auto& out = ctx.output();
    const std::string primary = best.primary;

    check_before_publishing(*best.artifact);  // before the fallback reads it or its files are linked into out

    // Fallback on the best INT8 cell.
    Json fallback = nullptr;
    Metrics final_metrics;
    bool fell_back = false;
    // Fallback recovers what quantization lost: the drop it works on is against the fp32 model the cell was quantized
    // from (rank's measurement, else the cell's input_<metric>), not against the baseline, whose gap to a pruned
    // width no site in fp32 can close.
    std::optional<double> fallback_reference;
    if (const auto it = model_metric.find(best.fp32_id); it != model_metric.end())
      fallback_reference = it->second;
    else if (best.artifact->metrics().contains("input_" + best.primary) &&
             best.artifact->metrics()["input_" + best.primary].is_number())
      fallback_reference = best.artifact->metrics()["input_" + best.primary].get<double>();
    else
      fallback_reference = best.reference;
    if (set(p, "fallback_until_drop_below") && best.artifact->kind() == "quantized_model" && fallback_reference &&
        *fallback_reference - best.value > p.get_float("fallback_until_drop_below")) {
      std::optional<tasks::ExampleEvaluation> fallback_eval;
      fallback = fall_back(ctx, *best.artifact, *fallback_reference, p, final_metrics,
                           p.get_bool("evaluate") ? scoring : nullptr, fallback_eval);
      fell_back = true;
      // The model the fallback made is what ships: the same figures as every candidate, against the same models.
      if (fallback_eval) {
        Json e = {{primary, fallback_eval->stats.value()}};
        if (const auto parent = fp32.find(best.fp32_id); parent != fp32.end()) {
          auto ref_outputs = parent->second.outputs;
          if (ref_outputs.size() == fallback_eval->outputs.size() && !ref_outputs.empty()) {
            const quant::QuantError q = quant::quant_error(
                at::from_blob(ref_outputs.data(), {static_cast<std::int64_t>(ref_outputs.size())}, at::kFloat),
                at::from_blob(fallback_eval->outputs.data(), {static_cast<std::int64_t>(fallback_eval->outputs.size())},
                              at::kFloat));
            fallback_sqnr_ = std::isinf(q.sqnr_db) ? 999.0 : q.sqnr_db;
            e["logit_sqnr_db"] = *fallback_sqnr_;
          }
          if (parent->second.predictions.size() == fallback_eval->predictions.size() &&
              !fallback_eval->predictions.empty()) {
            fallback_agreement_ = tasks::prediction_agreement(parent->second.predictions, fallback_eval->predictions);
            e["agreement"] = *fallback_agreement_;
          }
        }
        if (const auto base = base_ref ? fp32.find(base_ref->id) : fp32.end();
            base != fp32.end() && resamples > 0 && base->second.stats.examples() == fallback_eval->stats.examples() &&
            base->second.stats.width == fallback_eval->stats.width) {
          // Same seed, same example count: the same resamples as the candidates' intervals.
          const auto boot = metrics::paired_bootstrap({&base->second.stats, &fallback_eval->stats}, resamples,
                                                      static_cast<std::uint64_t>(ctx.seed()));
          fallback_ci_ = metrics::difference_interval(boot, 1, 0, confidence);
          e["delta"] = boot.full[1] - boot.full[0];
          e["delta_interval"] = interval_json(fallback_ci_);
        }
        fallback["evaluation"] = e;
      }
      if (bench.enabled) {
        // The fallback model is a new one: export and time it like the candidates.
        Timing t;
        t.model_dir = out.dir();
        t.kind = "quantized_model";
        prepare_runtime(t, ctx.scratch_dir(), ctx.has_task() ? &ctx.task() : nullptr, ctx.device());
        if (t.exported_here) {
          link_tree(t.runtime_dir, out.dir() / "runtime");
          t.runtime_dir = out.dir() / "runtime";
        }
        time_all({&t}, bench, ctx);
        Json lat = Json::object();
        for (std::size_t i = 0; t.timed() && i < bench.options.batches.size(); ++i) {
          const auto s = speedup(t, i);
          lat["batch_" + std::to_string(bench.options.batches[i])] = {
              {"p50_ms", t.p50[i]}, {"p90_ms", t.p90[i]}, {"speedup", s ? Json(*s) : Json(nullptr)}};
        }
        fallback["latency"] = lat;
        if (!t.note.empty()) fallback["latency_note"] = t.note;
      }
    } else {
      copy_model_files(best.artifact->dir(), out.dir());
      if (bench.enabled && best.timing.exported_here) link_tree(best.timing.runtime_dir, out.dir() / "runtime");
    }

    // The table, in rank order.
    const auto& batches = bench.options.batches;
    const std::string base_name = base_ref ? base_ref->id : std::string("fp32");
    auto latency_json = [&](const Timing& t) {
      Json lat = Json::object();
      for (std::size_t i = 0; t.timed() && i < batches.size(); ++i) {
        const auto s = speedup(t, i);
        // The speedup's range: the slowest plausible pairing to the fastest (baseline p50 / model p90 to
        // baseline p90 / model p50).
        Json range = nullptr;
        if (s && baseline.timed() && t.p90[i] > 0)
          range = Json::array({baseline.p50[i] / t.p90[i], baseline.p90[i] / t.p50[i]});
        lat["batch_" + std::to_string(batches[i])] = {
            {"p50_ms", t.p50[i]},
            {"p90_ms", t.p90[i]},
            {"spread", t.p50[i] > 0 ? Json(t.p90[i] / t.p50[i]) : Json(nullptr)},
            {"runs", t.ms[i].size()},
            {"speedup", s ? Json(*s) : Json(nullptr)},
            {"speedup_range", range}};
      }
      return lat;
    };
    // Test: held out. Read here only, after every choice above (candidates, fallback), to report the baseline and
    // each candidate beside their dev figures; nothing below decides anything.
    Json test_json = nullptr;
    std::optional<double> base_test;
    struct ModelTest {
      std::optional<double> value, delta;
      std::optional<metrics::Interval> delta_ci;
    };
    std::map<std::string, ModelTest> model_test;  // fp32 parents that are not candidates, on test
    const auto* splits = ctx.has_task() ? dynamic_cast<const tasks::SplitInfo*>(&ctx.task()) : nullptr;
    if (p.get_bool("report_test") && p.get_bool("evaluate") && scoring && splits &&
        splits->has_split(tasks::DataSplit::Test)) {
      const std::int64_t max_seq = p.get_int("max_seq_length");
      const std::int64_t batch = p.get_int("per_device_eval_batch_size");
      std::optional<tasks::ExampleEvaluation> base_eval;
      if (base_ref) {
        try {
          base_eval = evaluate_model(base_ref->dir, kind_of(base_ref->dir) == "quantized_model", ctx.task(), *scoring,
                                     ctx.device(), max_seq, batch, "test");
          base_test = base_eval->stats.value();
        } catch (const Error& e) {
          ctx.log().warn("rank: cannot evaluate the baseline " + base_ref->id + " on test: " + e.what());
        }
      }
      // The fp32 parents with rows of their own (the pruned models), so the gains of pruning and of
      // quantization read apart on test too.
      ctx.progress().begin("test", static_cast<std::int64_t>(cands.size() + own_parents.size()));
      std::int64_t done = 0;
      // One model on test: its figure, and Δ with its interval against the baseline on the same examples.
      auto score_test = [&](const fs::path& dir, bool quantized, const std::string& what) {
        ModelTest t;
        try {
          const auto e = evaluate_model(dir, quantized, ctx.task(), *scoring, ctx.device(), max_seq, batch, "test");
          t.value = e.stats.value();
          if (base_eval && e.stats.examples() == base_eval->stats.examples() &&
              e.stats.width == base_eval->stats.width) {
            t.delta = *t.value - *base_test;
            if (resamples > 0) {
              const auto boot = metrics::paired_bootstrap({&base_eval->stats, &e.stats}, resamples,
                                                          static_cast<std::uint64_t>(ctx.seed()));
              t.delta_ci = metrics::difference_interval(boot, 1, 0, confidence);
            }
          }
        } catch (const Error& e) {
          ctx.log().warn("rank: cannot evaluate " + what + " on test: " + e.what());
        }
        ctx.progress().update(++done);
        ctx.throw_if_cancelled();
        return t;
      };
      for (const auto& m : own_parents)
        model_test[m.id] = score_test(m.dir, kind_of(m.dir) == "quantized_model", "fp32 model " + m.id);
      for (auto& c : cands) {
        const ModelTest t = score_test(c.artifact->dir(), c.quantized(), c.artifact->id());
        c.test_value = t.value;
        c.test_delta = t.delta;
        c.test_delta_ci = t.delta_ci;
      }
      ctx.progress().end();
      test_json = {{"data", splits->split_info(tasks::DataSplit::Test)},
                   {"baseline", base_test ? Json(*base_test) : Json(nullptr)},
                   {"note", "held out: evaluated after the choice, which reads the eval (dev) split only"}};
      if (base_eval) test_json["examples"] = base_eval->stats.examples();
    }
    const bool test_reported = !test_json.is_null();

    std::ostringstream csv;
    csv << "rank,id," << primary << ",reference,delta,delta_low,delta_high,logit_sqnr_db,agreement,size_bytes,"
        << "meets_max_drop,eligible,within_noise,best";
    std::ostringstream md;
    md << "| rank | candidate | " << primary << " | " << base_name << " | Δ | Δ " << fixed(100 * confidence, 0)
       << "% CI | SQNR dB | agree % | size MB | eligible |";
    std::string rule = "|---|---|---|---|---|---|---|---|---|---|";
    if (bench.enabled) {
      for (auto b : batches) {
        csv << ",p50_ms_b" << b << ",p90_ms_b" << b << ",speedup_b" << b;
        md << " p50 ms b" << b << " | speedup b" << b << " |";
        rule += "---|---|";
      }
      csv << ",spread,noisy,precision,latency_note";
      md << " p90/p50 |";
      rule += "---|";
    }
    if (test_reported) {
      csv << ",test_" << primary << ",test_delta,test_delta_low,test_delta_high";
      md << " test " << primary << " | Δ test | Δ test " << fixed(100 * confidence, 0) << "% CI |";
      rule += "---|---|---|";
    }
    csv << "\n";
    md << "\n" << rule << "\n";
    Json rows = Json::array();
    for (std::size_t r = 0; r < order.size(); ++r) {
      const Candidate& c = cands[order[r]];
      const std::string ref = c.reference ? fixed(*c.reference, 2) : "";
      const std::string delta = c.reference ? signed_fixed(c.value - *c.reference, 2) : "";
      const std::string sqnr = c.sqnr_db ? sqnr_text(*c.sqnr_db) + (c.sqnr_source == "ptq" ? "*" : "") : "";
      const std::string agree = c.agreement ? fixed(100 * *c.agreement, 1) : "";
      csv << r + 1 << ",\"" << c.artifact->id() << "\"," << fixed(c.value, 4) << "," << ref << ","
          << (c.reference ? fixed(c.value - *c.reference, 4) : "") << ","
          << (c.delta_ci ? fixed(c.delta_ci->low, 4) : "") << "," << (c.delta_ci ? fixed(c.delta_ci->high, 4) : "")
          << "," << (c.sqnr_db ? fixed(*c.sqnr_db, 3) : "") << "," << (c.agreement ? fixed(*c.agreement, 4) : "") << ","
          << c.size_bytes << "," << (c.meets ? "yes" : "no") << "," << (c.excluded.empty() ? "yes" : "no") << ","
          << (c.within_noise ? "yes" : "") << "," << (r == 0 ? "yes" : "");
      md << "| " << r + 1 << " | " << (r == 0 ? "**" + c.artifact->id() + "**" : c.artifact->id()) << " | "
         << fixed(c.value, 2) << " | " << ref << " | " << delta << " | " << interval_text(c.delta_ci) << " | " << sqnr
         << " | " << agree << " | " << fixed(c.size_bytes / 1e6, 2) << " | "
         << (c.excluded.empty() ? (c.within_noise ? "yes, within noise of the best" : "yes") : "no: " + c.excluded)
         << " |";
      Json row = {{"rank", r + 1},
                  {"id", c.artifact->id()},
                  {"dir", c.artifact->dir().string()},
                  {"kind", c.artifact->kind()},
                  {primary, c.value},
                  {"reference", c.reference ? Json(*c.reference) : Json(nullptr)},
                  {"delta", c.reference ? Json(c.value - *c.reference) : Json(nullptr)},
                  {"delta_interval", interval_json(c.delta_ci)},
                  {"evaluated_by_rank", c.evaluated},
                  {"logit_sqnr_db", c.sqnr_db ? Json(*c.sqnr_db) : Json(nullptr)},
                  {"logit_sqnr_source", c.sqnr_source},
                  {"agreement", c.agreement ? Json(*c.agreement) : Json(nullptr)},
                  {"fp32_model", c.fp32_id},
                  {"size_bytes", c.size_bytes},
                  {"meets_max_drop", c.meets},
                  {"eligible", c.excluded.empty()},
                  {"excluded", c.excluded},
                  {"within_noise_of_best", c.within_noise},
                  {"vs_best_interval", interval_json(c.vs_best)}};
      if (bench.enabled) {
        for (std::size_t i = 0; i < batches.size(); ++i) {
          const auto s = speedup(c.timing, i);
          csv << "," << (c.timing.timed() ? fixed(c.timing.p50[i], 4) : "") << ","
              << (c.timing.timed() ? fixed(c.timing.p90[i], 4) : "") << "," << (s ? fixed(*s, 3) : "");
          md << " " << ms_text(c.timing, i) << " | " << (s ? fixed(*s, 2) + "×" : "") << " |";
        }
        csv << "," << (c.timing.timed() ? fixed(c.timing.spread(), 3) : "") << "," << (c.timing.noisy ? "yes" : "")
            << "," << c.timing.precision << ",\"" << c.timing.note << "\"";
        md << " " << (c.timing.timed() ? fixed(c.timing.spread(), 2) + (c.timing.noisy ? " noisy" : "") : "") << " |";
        row["latency"] = latency_json(c.timing);
        row["latency_noisy"] = c.timing.noisy;
        row["latency_remeasured_rounds"] = c.timing.remeasured;
        row["runtime_precision"] = c.timing.precision;
        if (!c.timing.note.empty()) row["latency_note"] = c.timing.note;
      }
      if (test_reported) {
        csv << "," << (c.test_value ? fixed(*c.test_value, 4) : "") << ","
            << (c.test_delta ? fixed(*c.test_delta, 4) : "") << ","
            << (c.test_delta_ci ? fixed(c.test_delta_ci->low, 4) : "") << ","
            << (c.test_delta_ci ? fixed(c.test_delta_ci->high, 4) : "");
        md << " " << (c.test_value ? fixed(*c.test_value, 2) : "") << " | "
           << (c.test_delta ? signed_fixed(*c.test_delta, 2) : "") << " | " << interval_text(c.test_delta_ci) << " |";
        row["test"] = {{primary, c.test_value ? Json(*c.test_value) : Json(nullptr)},
                       {"delta", c.test_delta ? Json(*c.test_delta) : Json(nullptr)},
                       {"delta_interval", interval_json(c.test_delta_ci)}};
      }
      csv << "\n";
      md << "\n";
      rows.push_back(row);
    }
    // The baseline and the candidates' fp32 models: the user's model first, so every figure reads against it.
    Json models = Json::array();
    auto model_row = [&](const std::string& role, const ModelRef& ref, const Timing* t) {
      Json m = {{"role", role}, {"id", ref.id}, {"dir", ref.dir.string()}, {"kind", kind_of(ref.dir)}};
      const auto metric = model_metric.find(ref.id);
      m[primary] = metric == model_metric.end() ? Json(nullptr) : Json(metric->second);
      if (metric != model_metric.end() && base_measured)
        m["delta"] = role == "baseline" ? 0.0 : metric->second - *base_measured;
      const auto ci = model_ci.find(ref.id);
      m["delta_interval"] = ci == model_ci.end() ? Json(nullptr) : interval_json(ci->second);
      if (t) {
        m["latency"] = latency_json(*t);
        m["latency_noisy"] = t->noisy;
        m["latency_remeasured_rounds"] = t->remeasured;
        if (!t->note.empty()) m["latency_note"] = t->note;
      }
      std::ostringstream line;
      line << "- " << role << " `" << ref.id << "`";
      if (metric != model_metric.end()) line << ": " << primary << " " << fixed(metric->second, 2);
      if (role != "baseline" && m.contains("delta")) line << ", Δ " << signed_fixed(m["delta"].get<double>(), 2);
      if (ci != model_ci.end() && ci->second) line << " " << interval_text(ci->second);
      for (std::size_t i = 0; t && t->timed() && i < batches.size(); ++i) {
        const auto s = speedup(*t, i);
        line << (i ? "," : ";") << " p50 " << ms_text(*t, i) << " ms at batch " << batches[i]
             << (s && role != "baseline" ? " (" + fixed(*s, 2) + "×)" : "");
      }
      if (t && t->timed()) line << ", p90/p50 " << fixed(t->spread(), 2) << (t->noisy ? " (noisy)" : "");
      const auto tested = model_test.find(ref.id);
      if (role == "baseline" && base_test) {
        m["test"] = {{primary, *base_test}, {"delta", 0.0}, {"delta_interval", nullptr}};
        line << "; test " << fixed(*base_test, 2);
      } else if (tested != model_test.end() && tested->second.value) {
        const ModelTest& mt = tested->second;
        m["test"] = {{primary, *mt.value},
                     {"delta", mt.delta ? Json(*mt.delta) : Json(nullptr)},
                     {"delta_interval", interval_json(mt.delta_ci)}};
        line << "; test " << fixed(*mt.value, 2);
        if (mt.delta) line << ", Δ test " << signed_fixed(*mt.delta, 2);
        if (mt.delta_ci) line << " " << interval_text(mt.delta_ci);
      }
      models.push_back(m);
      return line.str();
    };
    std::ostringstream model_lines;
    if (base_ref)
      model_lines << model_row("baseline", *base_ref, baseline.timed() || !baseline.note.empty() ? &baseline : nullptr)
                  << "\n";
    for (const auto& ref : own_parents) {
      const auto t = parent_timing.find(ref.id);
      model_lines << model_row("fp32 parent", ref, t == parent_timing.end() ? nullptr : &t->second) << "\n";
    }
    if (!model_lines.str().empty())
      md << "\nfp32 models (Δ against the baseline, on the same examples):\n" << model_lines.str();
    md << "\nΔ: against " << base_name
       << (bootstrap_ ? ", evaluated by rank on the same eval examples; interval: paired "
                        "bootstrap, " +
                            std::to_string(resamples) + " resamples, seed " + std::to_string(ctx.seed())
                      : " (each candidate's manifest reference; no interval)")
       << ". SQNR and agreement: output logits and predictions against the fp32 model each candidate was made from"
       << (std::any_of(cands.begin(), cands.end(), [](const Candidate& c) { return c.sqnr_source == "ptq"; })
               ? " (* the ptq cell's own figure on its first sensitivity_samples features)"
               : "")
       << (test_reported ? ". Test: the held-out split, evaluated after the choice only to report it (baseline " +
                               (base_test ? fixed(*base_test, 2) : std::string("not evaluated")) + ")"
                         : std::string())
       << ". Eligible: within max_metric_drop" << (has_max_drop ? " (" + fixed(max_drop, 2) + ")" : " (none set)")
       << " and, for INT8, SQNR ≥ " << fixed(min_sqnr, 1) << " dB.";
    if (choice.contains("decided_by"))
      md << " Chosen among the " << choice["within_noise"].size() << " eligible candidate(s) within noise of "
         << choice["best_metric"].get<std::string>() << " (" << fixed(choice["best_metric_value"].get<double>(), 2)
         << "): highest SQNR (within " << fixed(fidelity_tolerance, 1) << " dB), then lowest latency; decided by "
         << choice["decided_by"].get<std::string>() << ".";
    md << "\n";
    if (fell_back) {
      md << "\nFallback: " << fallback["fp32_sites"].size() << " of the best cell's most sensitive sites back in fp32 ("
         << (fallback["met"].get<bool>() ? "target met" : "target not met") << "): " << primary << " "
         << fixed(final_metrics.value, 2);
      if (best.reference) md << ", Δ " << signed_fixed(final_metrics.value - *best.reference, 2);
      if (fallback_ci_) md << " " << interval_text(fallback_ci_);
      if (fallback_sqnr_) md << ", SQNR " << sqnr_text(*fallback_sqnr_) << " dB";
      if (fallback_agreement_) md << ", agreement " << fixed(100 * *fallback_agreement_, 1) << "%";
      md << ". This is the model in this folder.\n";
    }
    Json bench_json = nullptr;
    if (bench.enabled) {
      std::ostringstream line;
      line << "\nLatency: slimpipe_runtime (as `slimpipe bench`), " << bench.threads << " thread(s), seq "
           << (bench.seq > 0 ? std::to_string(bench.seq) : std::string("min(128, max_position_embeddings)"))
           << ", p50 of " << bench.rounds << " rounds x up to " << bench.options.iters << " runs, isa "
           << slimpipe_runtime::cpu_isa() << "; a model whose p90/p50 exceeds " << fixed(bench.max_spread, 2)
           << " is timed again (" << bench.retries << "x), and marked noisy if it stays so; OpenMP wait policy "
           << omp_wait_policy() << ".";
      if (bench.threads > 1 && omp_wait_policy() != "passive" && omp_wait_policy() != "PASSIVE")
        line << " With " << bench.threads << " threads on shared cores run with OMP_WAIT_POLICY=passive or "
             << "bench_threads = 1 (docs/runtime.md).";
      Json base = nullptr;
      if (baseline.timed()) {
        line << " Speedup against " << baseline_label << " (" << baseline.precision << "):";
        for (std::size_t i = 0; i < batches.size(); ++i)
          line << " " << ms_text(baseline, i) << " ms at batch " << batches[i] << (i + 1 < batches.size() ? "," : ".");
        if (baseline.noisy) line << " The baseline's timing is noisy (p90/p50 " << fixed(baseline.spread(), 2) << ").";
        base = {{"id", baseline_label},
                {"dir", baseline.model_dir.string()},
                {"latency", latency_json(baseline)},
                {"latency_noisy", baseline.noisy}};
      } else if (!baseline.note.empty()) {
        line << " Baseline " << baseline_label << ": " << baseline.note << ".";
      } else {
        line << " No fp32 baseline found (set baseline = \"<candidate id>\").";
      }
      md << line.str() << "\n";
      bench_json = {{"threads", bench.threads},
                    {"seq", bench.seq > 0 ? Json(bench.seq) : Json(nullptr)},
                    {"batches", batches},
                    {"rounds", bench.rounds},
                    {"iters", bench.options.iters},
                    {"max_spread", bench.max_spread},
                    {"retries", bench.retries},
                    {"omp_wait_policy", omp_wait_policy()},
                    {"isa", slimpipe_runtime::cpu_isa()},
                    {"baseline", base}};
    }
    // Checked writes: a full disk fails the node with "<file>: write failed: No space left on device".
    write_file_atomic(out.dir() / "ranking.csv", csv.str());
    write_file_atomic(out.dir() / "ranking.md", md.str());
    const Json summary = {{"primary", primary},
                          {"objective", objective},
                          {"max_metric_drop", max_drop_json},
                          {"min_logit_sqnr_db", min_sqnr},
                          {"best", best.artifact->id()},
                          {"best_meets_max_drop", best.meets},
                          {"best_eligible", best.excluded.empty()},
                          {"baseline", base_ref ? Json(base_ref->id) : Json(nullptr)},
                          {"choice", choice},
                          {"evaluation", evaluation},
                          {"test", test_json},
                          {"bench", bench_json},
                          {"models", models},
                          {"candidates", rows},
                          {"fallback", fallback}};
    write_file_atomic(out.dir() / "ranking.json", summary.dump(2) + "\n");

    out.set_kind(best.artifact->kind());
    out.manifest()["primary_metric"] = primary;
    out.manifest()["best"] = best.artifact->id();
    for (const char* key :
         {"size_bytes_int8", "size_bytes_fp32", "ptq", "width", "paddle_name", "exports", "load", "input_model"})
      if (best.artifact->manifest().contains(key)) out.manifest()[key] = best.artifact->manifest()[key];
    if (fell_back) {
      for (const auto& [name, value] : final_metrics.all.items())
        if (value.is_number()) out.set_metric(name, value.get<double>());
    } else {
      for (const auto& [name, value] : best.artifact->metrics().items())
        if (value.is_number()) out.set_metric(name, value.get<double>());
      for (std::size_t i = 0; bench.enabled && best.timing.timed() && i < batches.size(); ++i) {
        out.set_metric("p50_ms_b" + std::to_string(batches[i]), best.timing.p50[i]);
        if (const auto s = speedup(best.timing, i)) out.set_metric("speedup_b" + std::to_string(batches[i]), *s);
      }
    }
    if (best.reference) out.set_metric("reference_" + primary, *best.reference);
    if (test_reported) {
      // The shipped model's test figure (test_<metric>, never read as a dev one): the fallback's model is new.
      bool have = !fell_back && best.test_value.has_value();
      double shipped = have ? *best.test_value : 0.0;
      if (fell_back) {
        try {
          shipped = evaluate_model(out.dir(), true, ctx.task(), *scoring, ctx.device(), p.get_int("max_seq_length"),
                                   p.get_int("per_device_eval_batch_size"), "test")
                        .stats.value();
          have = true;
        } catch (const Error& e) {
          ctx.log().warn("rank: cannot evaluate the fallback model on test: " + std::string(e.what()));
        }
      }
      if (have) out.set_metric("test_" + primary, shipped);
      if (base_test) out.set_metric("baseline_test_" + primary, *base_test);
    }
    if (!fell_back && best.evaluated) {
      out.set_metric(primary, best.value);
      if (best.reference) out.set_metric("delta_" + primary, best.value - *best.reference);
    }
    if (!fell_back && best.delta_ci) {
      out.set_metric("delta_" + primary + "_low", best.delta_ci->low);
      out.set_metric("delta_" + primary + "_high", best.delta_ci->high);
    }
    if (!fell_back && best.sqnr_db) out.set_metric("logit_sqnr_db", *best.sqnr_db);
    if (!fell_back && best.agreement) out.set_metric("agreement", *best.agreement);
    if (fell_back && fallback_sqnr_) out.set_metric("logit_sqnr_db", *fallback_sqnr_);
    if (fell_back && fallback_agreement_) out.set_metric("agreement", *fallback_agreement_);
    if (fell_back && fallback_ci_) {
      out.set_metric("delta_" + primary + "_low", fallback_ci_->low);
      out.set_metric("delta_" + primary + "_high", fallback_ci_->high);
    }
    std::string speed;
    if (const auto s = best.timing.timed() ? speedup(best.timing, 0) : std::nullopt)
      speed = ", " + fixed(*s, 2) + "x the fp32 baseline at batch " + std::to_string(batches[0]);
    ctx.log().info("rank: " + std::to_string(cands.size()) + " candidates; best " + best.artifact->id() + " " +
                   primary + "=" + fixed(best.value, 2) +
                   (best.reference ? " (fp32 " + fixed(*best.reference, 2) + ")" : "") + speed +
                   (best.excluded.empty() ? "" : "; no candidate is eligible (" + best.excluded + ")") +
                   (fell_back ? "; after fallback " + fixed(final_metrics.value, 2) : ""));
    ctx.log().info("ranking:\n" + md.str());
  }

 private:
  std::optional<metrics::PairedBootstrap> bootstrap_;  // baseline first; slots_[candidate] its row (0: none)
  std::vector<std::size_t> slots_;
  std::optional<double> fallback_sqnr_, fallback_agreement_;  // of the model the fallback made
  std::optional<metrics::Interval> fallback_ci_;

  static BenchSettings bench_settings(Context& ctx, const Params& p) {
    BenchSettings b;
    b.enabled = p.get_bool("bench");
    const auto batches = p.get_int_list("bench_batches");
    b.options.batches.assign(batches.begin(), batches.end());
    if (b.enabled && b.options.batches.empty())
      throw Error("rank: bench_batches is empty (expected batch sizes such as [1, 32])");
    for (auto x : b.options.batches)
      if (x <= 0) throw Error("rank: bench_batches must be > 0, got " + std::to_string(x));
    b.seq = p.get_int("bench_seq");
    if (b.seq < 0)
      throw Error("rank: bench_seq must be >= 0 (0 = min(128, max_position_embeddings)), got " + std::to_string(b.seq));
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
    b.threads = threads > 0 ? static_cast<int>(threads)
                            : (ctx.threads() > 0 ? ctx.threads()
                                                 : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    return b;
  }

  // Re-evaluates the cell with its most sensitive sites in fp32, adding one site at a time.
  Json fall_back(Context& ctx, const Artifact& cell, double reference, const Params& p, Metrics& final_metrics,
                 const tasks::ExampleScoring* scoring, std::optional<tasks::ExampleEvaluation>& final_eval) {
    const double target = p.get_float("fallback_until_drop_below");
    Task& task = ctx.task();
    io::LoadOptions load;
    load.head = task.head().head;
    load.device = ctx.device();
    io::LoadedModel model = io::load_model(cell.dir(), load);
    if (ctx.threads() > 0) at::set_num_threads(ctx.threads());
    const quant::FakeQuantPlan plan = quant::load_plan(cell.dir());
    const auto tokenizer = text::WordPieceTokenizer::from_directory(cell.dir());
    const auto data = task.features("eval", tokenizer, p.get_int("max_seq_length"));
    std::ifstream in(cell.dir() / "metrics.json");
    const Json metrics = Json::parse(in, nullptr, false);
    if (metrics.is_discarded() || !metrics.contains("ptq") || !metrics["ptq"].contains("sensitivity_order"))
      throw Error((cell.dir() / "metrics.json").string() + ": no ptq.sensitivity_order (fallback needs a ptq cell)");
    const std::vector<std::string> order = metrics["ptq"]["sensitivity_order"].get<std::vector<std::string>>();
    const std::int64_t limit =
        std::min<std::int64_t>(static_cast<std::int64_t>(order.size()), p.get_int("fallback_max_sites") > 0
                                                                            ? p.get_int("fallback_max_sites")
                                                                            : static_cast<std::int64_t>(order.size()));
    std::vector<std::string> fp32_sites;
    Json steps = Json::array();
    quant::FakeQuantPlan current = plan;
    const std::int64_t batch = p.get_int("per_device_eval_batch_size");
    final_metrics = task.evaluate(*model.model, *data, batch, quant::make_fake_quant_hook(current));
    ctx.progress().begin("fallback", limit);
    for (std::int64_t k = 0; k < limit; ++k) {
      fp32_sites.push_back(order[k]);
      current = quant::without_sites(plan, fp32_sites);
      final_metrics = task.evaluate(*model.model, *data, batch, quant::make_fake_quant_hook(current));
      steps.push_back({{"fp32_site", order[k]},
                       {final_metrics.primary, final_metrics.value},
                       {"delta", final_metrics.value - reference}});
      ctx.log().info("fallback: " + order[k] + " -> fp32: " + final_metrics.primary + " " +
                     fixed(final_metrics.value, 2) + " (drop " + fixed(reference - final_metrics.value, 2) + ")");
      ctx.progress().update(k + 1);
      ctx.throw_if_cancelled();
      if (reference - final_metrics.value <= target) break;
    }
    ctx.progress().end();
    const bool met = reference - final_metrics.value <= target;
    if (scoring)
      final_eval = scoring->evaluate_examples(*model.model, *data, batch, quant::make_fake_quant_hook(current));
    if (!met)
      ctx.log().warn("fallback: drop still " + fixed(reference - final_metrics.value, 2) + " after " +
                     std::to_string(fp32_sites.size()) + " sites in fp32");
    auto& out = ctx.output();
    copy_model_files(cell.dir(), out.dir());
    for (const char* f : {"calibration.json", "quant_weights.safetensors", "model.int8.onnx"})
      fs::remove(out.dir() / f);
    fs::remove_all(out.dir() / "runtime");
    quant::save_plan(out.dir(), current, {{"fallback_fp32_sites", fp32_sites}, {"from_cell", cell.id()}});
    if (fs::exists(cell.dir() / "model.int8.onnx"))
      exporter::export_qdq_onnx(*model.model, current, out.dir() / "model.int8.onnx");
    if (fs::exists(cell.dir() / "runtime")) exporter::export_runtime(*model.model, current, out.dir() / "runtime");
    out.manifest()["fallback_fp32_sites"] = fp32_sites;
    out.manifest()["size_bytes_int8"] = quant::quantized_size_bytes(*model.model, current);
    write_file_atomic(out.dir() / "metrics.json", Json{{"primary", final_metrics.primary},
                                                       {"eval", final_metrics.all},
                                                       {"fallback_fp32_sites", fp32_sites},
                                                       {"from_cell", cell.id()}}
                                                          .dump(2) +
                                                      "\n");
    return {{"from_cell", cell.id()},   {"target_drop", target}, {"reference", reference}, {"met", met},
            {"fp32_sites", fp32_sites}, {"steps", steps}};
  }
};

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

}  // namespace

SLIMPIPE_PLUGIN(
    Rank, "strategy", "rank", "1.2.0",
    "rank every candidate (metric, Δ with interval vs the user's model, logit SQNR, agreement, size, runtime "
    "latency), keep the best by a noise-aware rule, optional INT8 layer fallback",
    schema)
