// rank's candidates, the models they are measured against, the dev evaluation, eligibility and timing (rank.hpp).
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

#include "rank.hpp"
#include "slimpipe/io/checkpoint.hpp"
#include "slimpipe/io/model_folder.hpp"
#include "slimpipe/quant/model_evaluation.hpp"
#include "slimpipe/quant/ptq.hpp"
#include "slimpipe/quant/quant_error.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"

namespace slimpipe::ranking {

namespace {

double number(const Json& metrics, const std::string& key, const std::string& where) {
  if (!metrics.contains(key) || !metrics[key].is_number())
    throw Error(where + ": manifest metrics lack '" + key + "' (rank needs each candidate's primary metric)");
  return metrics[key].get<double>();
}

Candidate describe_one(const Artifact& a) {
  const std::string where = (a.dir() / "manifest.json").string();
  const auto mm = ModelManifest::read(a);
  if (!mm || mm->primary_metric.empty())
    throw Error(where +
                ": no model block naming a primary_metric (rank takes model artifacts: finetune, dynabert, "
                "ptq outputs)");
  Candidate c;
  c.artifact = &a;
  c.model = *mm;
  c.primary = mm->primary_metric;
  c.value = number(a.metrics(), c.primary, where);
  c.reference = mm->origin_metric ? mm->origin_metric : mm->input_metric;
  c.size_bytes = mm->model_bytes.value_or(a.manifest().value("size_bytes", std::int64_t{0}));
  c.timing.model_dir = a.dir();
  c.timing.kind = a.kind();
  return c;
}

float* data_of(std::vector<float>& v) { return v.data(); }

}  // namespace

void Rank::describe(const std::vector<Artifact>& inputs) {
  if (inputs.empty()) throw Error("rank: no candidates (set collect = true and list the nodes to rank as inputs)");
  for (const auto& a : inputs) cands_.push_back(describe_one(a));
  for (const auto& c : cands_)
    if (c.primary != cands_.front().primary)
      throw Error("rank: candidates report different metrics ('" + cands_.front().primary + "' and '" + c.primary +
                  "')");
}

// The baseline every Δ is against: the user's model (the furthest fp32 ancestor through input_model), or the
// candidate `baseline` names. Speedups use it too unless baseline = "none". Then each candidate's own fp32 model
// (what it was quantized or pruned from): fidelity is measured against it.
void Rank::find_models() {
  if (s_.baseline == "auto" || s_.baseline == "none") {
    base_ref_ = io::furthest_fp32_ancestor(*cands_.front().artifact);
  } else {
    for (const auto& c : cands_)
      if (c.artifact->id() == s_.baseline) base_ref_ = ModelRef{c.artifact->id(), c.artifact->dir()};
    if (!base_ref_)
      throw Error("rank: baseline '" + s_.baseline +
                  "' is not one of the candidates (use \"auto\", \"none\" or a candidate id)");
  }
  for (auto& c : cands_)
    if (const auto parent = io::fp32_parent(c.model)) {
      c.fp32_id = parent->id;
      parents_.emplace(parent->id, *parent);
    }
  for (const auto& [id, ref] : parents_) {
    const bool candidate =
        std::any_of(cands_.begin(), cands_.end(), [&](const Candidate& c) { return c.artifact->id() == id; });
    if (!candidate && (!base_ref_ || id != base_ref_->id)) own_parents_.push_back(ref);
  }
}

// Every candidate, its fp32 model and the baseline on the same eval examples: Δ with a paired bootstrap interval,
// logit SQNR and prediction agreement against the candidate's fp32 model.
void Rank::evaluate_dev() {
  Context& ctx = *ctx_;
  evaluation_ = {{"enabled", s_.evaluate}};
  scoring_ = ctx.has_task() ? dynamic_cast<const tasks::ExampleScoring*>(&ctx.task()) : nullptr;
  if (s_.evaluate && !scoring_) {
    const std::string why =
        ctx.has_task() ? "the task does not score example by example" : "the pipeline has no [task]";
    evaluation_["note"] = "not evaluated: " + why + "; Δ without interval, SQNR from the ptq cells' manifests";
    ctx.log().warn("rank: " + evaluation_["note"].get<std::string>());
  }
  if (s_.evaluate && scoring_) {
    if (ctx.threads() > 0) at::set_num_threads(ctx.threads());
    std::size_t fp32_count = (base_ref_ ? 1 : 0);
    for (const auto& [id, ref] : parents_) fp32_count += (!base_ref_ || id != base_ref_->id) ? 1 : 0;
    ctx.progress().begin("evaluate", static_cast<std::int64_t>(fp32_count + cands_.size()));
    const std::int64_t done = evaluate_fp32_models();
    std::vector<tasks::ExampleEvaluation> evals(cands_.size());
    std::vector<bool> have(cands_.size(), false);
    evaluate_candidates(evals, have, done);
    ctx.progress().end();
    bootstrap(evals, have);
    evaluation_["resamples"] = s_.resamples;
    evaluation_["confidence"] = s_.confidence;
    evaluation_["seed"] = ctx.seed();
  }
  // Candidates rank could not evaluate keep the ptq cell's own logit SQNR (on its first sensitivity_samples eval
  // features, against the same fp32 model).
  for (auto& c : cands_)
    if (!c.sqnr_db && c.model.logit_sqnr_db) {
      c.sqnr_db = c.model.logit_sqnr_db;
      c.sqnr_source = "ptq";
    }
}

std::int64_t Rank::evaluate_fp32_models() {
  Context& ctx = *ctx_;
  std::vector<ModelRef> models;
  if (base_ref_) models.push_back(*base_ref_);
  for (const auto& [id, ref] : parents_)
    if (!base_ref_ || id != base_ref_->id) models.push_back(ref);
  std::int64_t done = 0;
  for (const auto& m : models) {
    try {
      fp32_.emplace(m.id, quant::evaluate_model_folder(m.dir, io::model_kind(m.dir) == "quantized_model", ctx.task(),
                                                       *scoring_, ctx.device(), s_.max_seq, s_.eval_batch));
    } catch (const Error& e) {
      ctx.log().warn("rank: cannot evaluate fp32 model " + m.id + ": " + e.what());
    }
    ctx.progress().update(++done);
    ctx.throw_if_cancelled();
  }
  return done;
}

void Rank::evaluate_candidates(std::vector<tasks::ExampleEvaluation>& evals, std::vector<bool>& have,
                               std::int64_t done) {
  Context& ctx = *ctx_;
  for (std::size_t i = 0; i < cands_.size(); ++i) {
    Candidate& c = cands_[i];
    try {
      evals[i] = quant::evaluate_model_folder(c.artifact->dir(), c.quantized(), ctx.task(), *scoring_, ctx.device(),
                                              s_.max_seq, s_.eval_batch);
      have[i] = true;
    } catch (const Error& e) {
      ctx.log().warn("rank: cannot evaluate " + c.artifact->id() + ": " + e.what());
    }
    ctx.progress().update(++done);
    ctx.throw_if_cancelled();
    if (!have[i]) continue;
    const auto parent = fp32_.find(c.fp32_id);
    if (parent == fp32_.end()) continue;
    const auto& ref = parent->second;
    if (ref.outputs.size() == evals[i].outputs.size() && !ref.outputs.empty()) {
      auto ref_outputs = ref.outputs;
      const auto n = static_cast<std::int64_t>(ref_outputs.size());
      const quant::QuantError e = quant::quant_error(at::from_blob(data_of(ref_outputs), {n}, at::kFloat),
                                                     at::from_blob(data_of(evals[i].outputs), {n}, at::kFloat));
      c.sqnr_db = std::isinf(e.sqnr_db) ? 999.0 : e.sqnr_db;
      c.sqnr_source = "rank";
    }
    if (ref.predictions.size() == evals[i].predictions.size() && !ref.predictions.empty())
      c.agreement = tasks::prediction_agreement(ref.predictions, evals[i].predictions);
  }
}

// The paired bootstrap: the baseline first, then every candidate and parent scored on the same examples. Which
// candidates are within noise of the best eligible one is decided later (choose), from the same resamples.
void Rank::bootstrap(std::vector<tasks::ExampleEvaluation>& evals, const std::vector<bool>& have) {
  const auto base_eval = base_ref_ ? fp32_.find(base_ref_->id) : fp32_.end();
  if (base_eval == fp32_.end()) {
    evaluation_["note"] = "no baseline evaluation: Δ against each candidate's manifest reference, without interval";
    return;
  }
  const metrics::ExampleStats& base = base_eval->second.stats;
  std::vector<const metrics::ExampleStats*> models{&base};
  std::vector<std::size_t> cand_slot(cands_.size(), 0);
  const std::int64_t n = base.examples();
  for (std::size_t i = 0; i < cands_.size(); ++i)
    if (have[i] && evals[i].stats.examples() == n && evals[i].stats.width == base.width) {
      cand_slot[i] = models.size();
      models.push_back(&evals[i].stats);
    }
  std::map<std::string, std::size_t> parent_slot;
  for (const auto& [id, e] : fp32_)
    if (id != base_ref_->id && e.stats.examples() == n && e.stats.width == base.width) {
      parent_slot[id] = models.size();
      models.push_back(&e.stats);
    }
  metrics::PairedBootstrap boot =
      metrics::paired_bootstrap(models, std::max(s_.resamples, 1), static_cast<std::uint64_t>(ctx_->seed()));
  base_measured_ = boot.full[0];
  for (std::size_t i = 0; i < cands_.size(); ++i) {
    if (cand_slot[i] == 0) continue;
    Candidate& c = cands_[i];
    c.evaluated = true;
    c.value = boot.full[cand_slot[i]];
    c.reference = boot.full[0];
    if (s_.resamples > 0) c.delta_ci = metrics::difference_interval(boot, cand_slot[i], 0, s_.confidence);
  }
  for (const auto& [id, slot] : parent_slot) {
    model_metric_[id] = boot.full[slot];
    if (s_.resamples > 0) model_ci_[id] = metrics::difference_interval(boot, slot, 0, s_.confidence);
  }
  model_metric_[base_ref_->id] = boot.full[0];
  evaluation_["examples"] = n;
  evaluation_["baseline"] = base_ref_->id;
  bootstrap_ = std::move(boot);
  slots_ = std::move(cand_slot);
}

void Rank::mark_eligible() {
  for (auto& c : cands_) {
    c.meets = !s_.has_max_drop || c.drop() <= s_.max_drop + 1e-12;
    if (!c.meets)
      c.excluded = "drop " + fixed(c.drop(), 2) + " > max_metric_drop " + fixed(s_.max_drop, 2);
    else if (c.quantized() && c.sqnr_db && *c.sqnr_db < s_.min_sqnr)
      c.excluded = "logit SQNR " + fixed(*c.sqnr_db, 1) + " dB < min_logit_sqnr_db " + fixed(s_.min_sqnr, 1);
  }
}

// Runtime latency of every candidate, of the baseline and of the candidates' fp32 models (a pruned width's own
// speed, so the gains of pruning and of quantization read apart).
void Rank::time_models() {
  if (!s_.bench.enabled) return;
  Context& ctx = *ctx_;
  if (s_.baseline != "none" && base_ref_) {
    baseline_.model_dir = base_ref_->dir;
    baseline_.kind = io::model_kind(base_ref_->dir);
    baseline_label_ = base_ref_->id;
  }
  std::vector<ModelTiming*> all;
  const fs::path scratch = ctx.scratch_dir();
  auto prepare = [&](ModelTiming& t) {
    prepare_runtime(t, scratch, ctx.has_task() ? &ctx.task() : nullptr, ctx.device());
    if (!t.note.empty()) ctx.log().warn("rank: " + t.model_dir.string() + ": " + t.note);
    all.push_back(&t);
  };
  for (auto& c : cands_) prepare(c.timing);
  auto candidate_at = [&](const fs::path& dir) -> const Candidate* {
    for (const auto& c : cands_)
      if (fs::equivalent(c.artifact->dir(), dir)) return &c;
    return nullptr;
  };
  const Candidate* same = baseline_.model_dir.empty() ? nullptr : candidate_at(baseline_.model_dir);
  if (!baseline_.model_dir.empty() && !same) prepare(baseline_);
  for (const auto& [id, ref] : parents_) {
    if (candidate_at(ref.dir) || (!baseline_.model_dir.empty() && fs::equivalent(ref.dir, baseline_.model_dir)))
      continue;
    ModelTiming& t = parent_timing_[id];
    t.model_dir = ref.dir;
    t.kind = io::model_kind(ref.dir);
  }
  for (auto& [id, t] : parent_timing_) prepare(t);
  time_all(all, s_.bench, ctx);
  if (same) baseline_ = same->timing;
}

}  // namespace slimpipe::ranking
