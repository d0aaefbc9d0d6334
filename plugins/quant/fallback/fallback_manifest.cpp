// fallback's manifest (fallback.hpp): the model it ships as a model block, its metrics, and the assessment block
// through which the run report reads what it measured (slimpipe/model_manifest.hpp).
#include "fallback.hpp"
#include "slimpipe/numbers.hpp"

namespace slimpipe::fallback {

namespace {

AssessedModel assessed(const std::string& role, const Measured& m) {
  AssessedModel a;
  a.role = role;
  a.id = m.ref.id;
  a.metric = m.value();
  return a;
}

void set_interval(AssessedModel& m, const std::optional<metrics::Interval>& ci) {
  if (!ci) return;
  m.delta_low = ci->low;
  m.delta_high = ci->high;
}

}  // namespace

std::string Fallback::section(bool made_new) const {
  const std::string metric = in_mm_.primary_metric;
  if (!made_new)
    return "Fallback not needed: " + input_->id() +
           (parent_m_ ? " is " + fixed(parent_m_->value() - input_m_->value(), 2) + " below " + parent_.id +
                            " (target " + fixed(s_.until, 2) + ")"
                      : " is an fp32 model") +
           "; shipped as it is.";
  std::string s = "Fallback: " + std::to_string(fp32_sites_.size()) + " of " + input_->id() +
                  "'s most sensitive sites back in fp32 (" + (met_ ? "target met" : "target not met") + "): " + metric +
                  " " + fixed(result_.metrics.value, 2) + ", drop " +
                  fixed(parent_m_->value() - result_.metrics.value, 2) + " against " + parent_.id + " (target " +
                  fixed(s_.until, 2) + ")";
  if (sqnr_) s += ", SQNR " + (*sqnr_ >= 999.0 ? std::string("∞") : fixed(*sqnr_, 1)) + " dB";
  if (agreement_) s += ", agreement " + fixed(100 * *agreement_, 1) + "%";
  if (s_.bench.enabled && result_timing_.timed())
    s += "; latency by slimpipe_runtime, " + std::to_string(s_.bench.options.threads) + " thread(s), isa " +
         exporter::runtime_cpu_isa() + ", speedup against " + root_.id;
  return s + ".";
}

Assessment Fallback::assessment(bool made_new) const {
  Assessment a;
  a.baseline = root_.id;
  a.section = section(made_new);
  a.details = "fallback.json";
  a.summary = {
      {"primary", in_mm_.primary_metric}, {"from", input_->id()},      {"needed", made_new},
      {"target_drop", s_.until},          {"fp32_sites", fp32_sites_}, {"met", made_new ? Json(met_) : Json()}};
  if (root_m_ && root_.id != parent_.id) {
    AssessedModel m = assessed("baseline", *root_m_);
    m.latency = latency_map(root_timing_);
    a.models.push_back(m);
  }
  if (parent_m_) {
    AssessedModel m = assessed(root_.id == parent_.id ? "baseline" : "fp32 parent", *parent_m_);
    if (root_.id == parent_.id) m.latency = latency_map(root_timing_);
    set_interval(m, root_m_ && root_.id != parent_.id ? interval(*root_m_, parent_m_->eval) : std::nullopt);
    a.models.push_back(m);
  }
  AssessedModel self;
  self.role = made_new ? "fallback" : "input";
  self.metric = result_.metrics.value;
  set_interval(self, ci_root_);
  self.logit_sqnr_db = sqnr_;
  self.agreement = agreement_;
  self.latency = latency_map(result_timing_);
  self.latency_noisy = result_timing_.noisy;
  if (parent_m_) {
    self.reference = parent_m_->value();
    self.delta = result_.metrics.value - parent_m_->value();
  }
  a.self = self;
  return a;
}

void Fallback::write_manifest(bool made_new) {
  auto& out = ctx_->output();
  out.manifest()["from"] = input_->id();
  // The input model's own fields, for whoever reads this folder as that model (the int8 size is the new one's).
  for (const char* key :
       {"size_bytes_int8", "size_bytes_fp32", "ptq", "width", "paddle_name", "exports", "load", "input_model"})
    if (input_->manifest().contains(key)) out.manifest()[key] = input_->manifest()[key];
  ModelManifest mm = in_mm_;
  mm.kind = input_->kind();
  mm.parameters = {{"from", input_->id()}, {"until_drop_below", s_.until}};
  if (made_new) {
    out.manifest()["size_bytes_int8"] = model_bytes_;
    mm.model_bytes = model_bytes_;
    mm.parameters["fallback_fp32_sites"] = fp32_sites_;
    mm.label = in_mm_.label + (in_mm_.label.empty() ? "" : " ") + "+" + std::to_string(fp32_sites_.size()) + " fp32";
    mm.latency = latency_map(result_timing_);
    mm.latency_noisy = result_timing_.noisy;
  }
  if (sqnr_) mm.logit_sqnr_db = sqnr_;
  if (agreement_) mm.agreement = agreement_;
  if (parent_m_) mm.input_metric = parent_m_->value();
  mm.write(out);
  if (parent_m_) assessment(made_new).write(out);
  write_metrics(made_new);
}

void Fallback::write_metrics(bool made_new) {
  auto& out = ctx_->output();
  const std::string& primary = in_mm_.primary_metric;
  if (made_new)
    for (const auto& [name, value] : result_.metrics.all.items())
      if (value.is_number()) out.set_metric(name, value.get<double>());
  if (!parent_m_) return;
  out.set_metric(primary, result_.metrics.value);
  out.set_metric("reference_" + primary, parent_m_->value());
  out.set_metric("delta_" + primary, result_.metrics.value - parent_m_->value());
  if (ci_parent_) {
    out.set_metric("delta_" + primary + "_low", ci_parent_->low);
    out.set_metric("delta_" + primary + "_high", ci_parent_->high);
  }
  if (sqnr_) out.set_metric("logit_sqnr_db", *sqnr_);
  if (agreement_) out.set_metric("agreement", *agreement_);
  for (const auto& [batch, lat] : latency_map(result_timing_)) {
    out.set_metric("p50_ms_b" + std::to_string(batch), lat.p50_ms);
    if (lat.speedup) out.set_metric("speedup_b" + std::to_string(batch), *lat.speedup);
  }
  if (test_value_) out.set_metric("test_" + primary, *test_value_);
  if (root_test_) out.set_metric("baseline_test_" + primary, *root_test_);
}

}  // namespace slimpipe::fallback
