// rank's manifest (rank.hpp): the model it ships (the best candidate) as a model
// block, its metrics, and the assessment block through which the run report reads what rank measured.
#include "rank.hpp"

namespace slimpipe::ranking {

namespace {

AssessedModel fp32_model(const std::string& role, const std::string& id) {
  AssessedModel m;
  m.role = role;
  m.id = id;
  return m;
}

}  // namespace

// "Best: X (objective …, max_metric_drop …, min_logit_sqnr_db …; N candidate(s) within noise …); latency by …."
std::string Rank::section() const {
  const Candidate& best = cands_[order_.front()];
  std::string limits = s_.has_max_drop ? ", max_metric_drop " + fixed(s_.max_drop, 2) +
                                             " (met: " + std::string(best.meets ? "true" : "false") + ")"
                                       : ", no max_metric_drop";
  limits += ", min_logit_sqnr_db " + fixed(s_.min_sqnr, 1);
  if (choice_.contains("decided_by"))
    limits += "; " + std::to_string(choice_["within_noise"].size()) +
              " candidate(s) within noise of the best metric, decided by " + choice_["decided_by"].get<std::string>();
  std::string bench = "not timed";
  if (s_.bench.enabled)
    bench = "latency by slimpipe_runtime, " + std::to_string(s_.bench.options.threads) + " thread(s), isa " +
            exporter::runtime_cpu_isa() + ", speedup against " + (baseline_label_.empty() ? "none" : baseline_label_);
  return "Best: " + best.artifact->id() + " (objective " + s_.objective + limits + "); " + bench + ".";
}

Assessment Rank::assessment() const {
  const Candidate& best = cands_[order_.front()];
  Assessment a;
  a.baseline = base_ref_ ? base_ref_->id : "";
  a.best = best.artifact->id();
  a.section = section();
  a.details = "ranking.md";
  for (const char* key : {"primary", "objective", "max_metric_drop", "min_logit_sqnr_db", "best_meets_max_drop",
                          "best_eligible", "choice", "bench"})
    a.summary[key] = summary_.value(key, Json());
  if (base_ref_) {
    AssessedModel m = fp32_model("baseline", base_ref_->id);
    m.metric = base_measured_;
    m.latency = latency_map(baseline_);
    m.latency_noisy = baseline_.noisy;
    a.models.push_back(m);
  }
  for (const auto& ref : own_parents_) {
    AssessedModel m = fp32_model("fp32 parent", ref.id);
    if (const auto it = model_metric_.find(ref.id); it != model_metric_.end()) m.metric = it->second;
    if (const auto it = model_ci_.find(ref.id); it != model_ci_.end() && it->second) {
      m.delta_low = it->second->low;
      m.delta_high = it->second->high;
    }
    if (const auto it = parent_timing_.find(ref.id); it != parent_timing_.end()) {
      m.latency = latency_map(it->second);
      m.latency_noisy = it->second.noisy;
    }
    a.models.push_back(m);
  }
  for (std::size_t k : order_) {
    const Candidate& c = cands_[k];
    AssessedModel m = fp32_model("candidate", c.artifact->id());
    m.metric = c.value;
    m.latency = latency_map(c.timing);
    m.latency_noisy = c.timing.noisy;
    if (c.delta_ci) {
      m.delta_low = c.delta_ci->low;
      m.delta_high = c.delta_ci->high;
    }
    m.logit_sqnr_db = c.sqnr_db;
    m.agreement = c.agreement;
    m.reference = c.reference;
    if (c.reference) m.delta = c.value - *c.reference;
    a.models.push_back(m);
  }
  return a;
}

void Rank::write_manifest() {
  Context& ctx = *ctx_;
  auto& out = ctx.output();
  const Candidate& best = cands_[order_.front()];
  const std::string& primary = best.primary;
  out.manifest()["best"] = best.artifact->id();
  // The best model's own fields, for whoever reads this folder as that model.
  for (const char* key : {"size_bytes_int8", "size_bytes_fp32", "ptq", "width", "paddle_name", "exports", "load",
                          "input_model", "primary_metric"})
    if (best.artifact->manifest().contains(key)) out.manifest()[key] = best.artifact->manifest()[key];
  ModelManifest mm = best.model;
  mm.kind = best.artifact->kind();
  mm.latency = latency_map(best.timing);
  mm.latency_noisy = best.timing.noisy;
  mm.parameters = {{"best", best.artifact->id()}};
  if (best.sqnr_db) mm.logit_sqnr_db = best.sqnr_db;
  if (best.agreement) mm.agreement = best.agreement;
  mm.write(out);
  assessment().write(out);

  const auto& batches = s_.bench.options.batches;
  for (const auto& [name, value] : best.artifact->metrics().items())
    if (value.is_number()) out.set_metric(name, value.get<double>());
  for (std::size_t i = 0; s_.bench.enabled && best.timing.timed() && i < batches.size(); ++i) {
    out.set_metric("p50_ms_b" + std::to_string(batches[i]), best.timing.p50[i]);
    if (const auto s = speedup(best.timing, i)) out.set_metric("speedup_b" + std::to_string(batches[i]), *s);
  }
  if (best.evaluated) {
    out.set_metric(primary, best.value);
    if (best.reference) out.set_metric("delta_" + primary, best.value - *best.reference);
  }
  if (best.reference) out.set_metric("reference_" + primary, *best.reference);
  if (best.delta_ci) {
    out.set_metric("delta_" + primary + "_low", best.delta_ci->low);
    out.set_metric("delta_" + primary + "_high", best.delta_ci->high);
  }
  if (mm.logit_sqnr_db) out.set_metric("logit_sqnr_db", *mm.logit_sqnr_db);
  if (mm.agreement) out.set_metric("agreement", *mm.agreement);
  if (!test_json_.is_null()) {
    // The shipped model's test figure (test_<metric>, never read as a dev one).
    if (best.test_value) out.set_metric("test_" + primary, *best.test_value);
    if (base_test_) out.set_metric("baseline_test_" + primary, *base_test_);
  }
}

}  // namespace slimpipe::ranking
