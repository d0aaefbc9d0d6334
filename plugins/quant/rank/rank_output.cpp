// What rank writes (rank.hpp): ranking.csv and ranking.md (the table in rank order, the fp32 models, how it chose
// and timed), ranking.json (every figure), and the manifest's model and assessment blocks.
#include <algorithm>
#include <sstream>

#include "rank.hpp"
#include "slimpipe/io/checked_file.hpp"
#include "slimpipe/io/model_folder.hpp"

namespace slimpipe::ranking {

namespace {

std::string ms_text(const ModelTiming& t, std::size_t i) {
  return t.timed() ? fixed(t.p50[i], t.p50[i] < 10 ? 3 : 1) : "";
}

Json candidate_json(const Candidate& c, std::size_t rank, const std::string& primary) {
  return {{"rank", rank},
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
}

// The columns every candidate has: metric, reference, Δ and its interval, SQNR, agreement, size, eligibility.
void write_figures(const Candidate& c, std::size_t r, std::ostringstream& csv, std::ostringstream& md) {
  const std::string ref = c.reference ? fixed(*c.reference, 2) : "";
  const std::string delta = c.reference ? signed_fixed(c.value - *c.reference, 2) : "";
  const std::string sqnr = c.sqnr_db ? sqnr_text(*c.sqnr_db) + (c.sqnr_source == "ptq" ? "*" : "") : "";
  const std::string agree = c.agreement ? fixed(100 * *c.agreement, 1) : "";
  csv << r + 1 << ",\"" << c.artifact->id() << "\"," << fixed(c.value, 4) << "," << ref << ","
      << (c.reference ? fixed(c.value - *c.reference, 4) : "") << "," << (c.delta_ci ? fixed(c.delta_ci->low, 4) : "")
      << "," << (c.delta_ci ? fixed(c.delta_ci->high, 4) : "") << "," << (c.sqnr_db ? fixed(*c.sqnr_db, 3) : "") << ","
      << (c.agreement ? fixed(*c.agreement, 4) : "") << "," << c.size_bytes << "," << (c.meets ? "yes" : "no") << ","
      << (c.excluded.empty() ? "yes" : "no") << "," << (c.within_noise ? "yes" : "") << "," << (r == 0 ? "yes" : "");
  md << "| " << r + 1 << " | " << (r == 0 ? "**" + c.artifact->id() + "**" : c.artifact->id()) << " | "
     << fixed(c.value, 2) << " | " << ref << " | " << delta << " | " << interval_text(c.delta_ci) << " | " << sqnr
     << " | " << agree << " | " << fixed(c.size_bytes / 1e6, 2) << " | "
     << (c.excluded.empty() ? (c.within_noise ? "yes, within noise of the best" : "yes") : "no: " + c.excluded) << " |";
}

void write_test(const Candidate& c, const std::string& primary, std::ostringstream& csv, std::ostringstream& md,
                Json& row) {
  csv << "," << (c.test_value ? fixed(*c.test_value, 4) : "") << "," << (c.test_delta ? fixed(*c.test_delta, 4) : "")
      << "," << (c.test_delta_ci ? fixed(c.test_delta_ci->low, 4) : "") << ","
      << (c.test_delta_ci ? fixed(c.test_delta_ci->high, 4) : "");
  md << " " << (c.test_value ? fixed(*c.test_value, 2) : "") << " | "
     << (c.test_delta ? signed_fixed(*c.test_delta, 2) : "") << " | " << interval_text(c.test_delta_ci) << " |";
  row["test"] = {{primary, c.test_value ? Json(*c.test_value) : Json(nullptr)},
                 {"delta", c.test_delta ? Json(*c.test_delta) : Json(nullptr)},
                 {"delta_interval", interval_json(c.test_delta_ci)}};
}

}  // namespace

std::optional<double> Rank::speedup(const ModelTiming& t, std::size_t i) const {
  if (!t.timed() || !baseline_.timed() || t.p50[i] <= 0) return std::nullopt;
  return baseline_.p50[i] / t.p50[i];
}

Json Rank::latency_json(const ModelTiming& t) const {
  const auto& batches = s_.bench.options.batches;
  Json lat = Json::object();
  for (std::size_t i = 0; t.timed() && i < batches.size(); ++i) {
    const auto s = speedup(t, i);
    // The speedup's range: the slowest plausible pairing to the fastest (baseline p50 / model p90 to baseline p90 /
    // model p50).
    Json range = nullptr;
    if (s && baseline_.timed() && t.p90[i] > 0)
      range = Json::array({baseline_.p50[i] / t.p90[i], baseline_.p90[i] / t.p50[i]});
    lat["batch_" + std::to_string(batches[i])] = {{"p50_ms", t.p50[i]},
                                                  {"p90_ms", t.p90[i]},
                                                  {"spread", t.p50[i] > 0 ? Json(t.p90[i] / t.p50[i]) : Json(nullptr)},
                                                  {"runs", t.ms[i].size()},
                                                  {"speedup", s ? Json(*s) : Json(nullptr)},
                                                  {"speedup_range", range}};
  }
  return lat;
}

std::map<std::int64_t, Latency> Rank::latency_map(const ModelTiming& t) const {
  std::map<std::int64_t, Latency> out;
  const auto& batches = s_.bench.options.batches;
  for (std::size_t i = 0; t.timed() && i < batches.size(); ++i) out[batches[i]] = {t.p50[i], t.p90[i], speedup(t, i)};
  return out;
}

// The table, in rank order: ranking.csv, ranking.md and ranking.json's "candidates".
void Rank::write_table(std::ostringstream& csv, std::ostringstream& md, Json& rows) const {
  const std::string primary = cands_[order_.front()].primary;
  const std::string base_name = base_ref_ ? base_ref_->id : std::string("fp32");
  const auto& batches = s_.bench.options.batches;
  const bool test_reported = !test_json_.is_null();
  csv << "rank,id," << primary << ",reference,delta,delta_low,delta_high,logit_sqnr_db,agreement,size_bytes,"
      << "meets_max_drop,eligible,within_noise,best";
  md << "| rank | candidate | " << primary << " | " << base_name << " | Δ | Δ " << fixed(100 * s_.confidence, 0)
     << "% CI | SQNR dB | agree % | size MB | eligible |";
  std::string rule = "|---|---|---|---|---|---|---|---|---|---|";
  if (s_.bench.enabled) {
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
    md << " test " << primary << " | Δ test | Δ test " << fixed(100 * s_.confidence, 0) << "% CI |";
    rule += "---|---|---|";
  }
  csv << "\n";
  md << "\n" << rule << "\n";
  for (std::size_t r = 0; r < order_.size(); ++r) {
    const Candidate& c = cands_[order_[r]];
    write_figures(c, r, csv, md);
    Json row = candidate_json(c, r + 1, primary);
    if (s_.bench.enabled) {
      const ModelTiming& t = c.timing;
      for (std::size_t i = 0; i < batches.size(); ++i) {
        const auto s = speedup(t, i);
        csv << "," << (t.timed() ? fixed(t.p50[i], 4) : "") << "," << (t.timed() ? fixed(t.p90[i], 4) : "") << ","
            << (s ? fixed(*s, 3) : "");
        md << " " << ms_text(t, i) << " | " << (s ? fixed(*s, 2) + "×" : "") << " |";
      }
      csv << "," << (t.timed() ? fixed(t.spread(), 3) : "") << "," << (t.noisy ? "yes" : "") << "," << t.precision
          << ",\"" << t.note << "\"";
      md << " " << (t.timed() ? fixed(t.spread(), 2) + (t.noisy ? " noisy" : "") : "") << " |";
      row["latency"] = latency_json(t);
      row["latency_noisy"] = t.noisy;
      row["latency_remeasured_rounds"] = t.remeasured;
      row["runtime_precision"] = t.precision;
      if (!t.note.empty()) row["latency_note"] = t.note;
    }
    if (test_reported) write_test(c, primary, csv, md, row);
    csv << "\n";
    md << "\n";
    rows.push_back(row);
  }
}

// One fp32 model (the baseline, a candidate's parent): its line in ranking.md and its entry in ranking.json.
std::string Rank::model_line(const std::string& role, const ModelRef& ref, const ModelTiming* t, Json& models) const {
  const std::string primary = cands_[order_.front()].primary;
  const auto& batches = s_.bench.options.batches;
  Json m = {{"role", role}, {"id", ref.id}, {"dir", ref.dir.string()}, {"kind", io::model_kind(ref.dir)}};
  const auto metric = model_metric_.find(ref.id);
  m[primary] = metric == model_metric_.end() ? Json(nullptr) : Json(metric->second);
  if (metric != model_metric_.end() && base_measured_)
    m["delta"] = role == "baseline" ? 0.0 : metric->second - *base_measured_;
  const auto ci = model_ci_.find(ref.id);
  m["delta_interval"] = ci == model_ci_.end() ? Json(nullptr) : interval_json(ci->second);
  if (t) {
    m["latency"] = latency_json(*t);
    m["latency_noisy"] = t->noisy;
    m["latency_remeasured_rounds"] = t->remeasured;
    if (!t->note.empty()) m["latency_note"] = t->note;
  }
  std::ostringstream line;
  line << "- " << role << " `" << ref.id << "`";
  if (metric != model_metric_.end()) line << ": " << primary << " " << fixed(metric->second, 2);
  if (role != "baseline" && m.contains("delta")) line << ", Δ " << signed_fixed(m["delta"].get<double>(), 2);
  if (ci != model_ci_.end() && ci->second) line << " " << interval_text(ci->second);
  for (std::size_t i = 0; t && t->timed() && i < batches.size(); ++i) {
    const auto s = speedup(*t, i);
    line << (i ? "," : ";") << " p50 " << ms_text(*t, i) << " ms at batch " << batches[i]
         << (s && role != "baseline" ? " (" + fixed(*s, 2) + "×)" : "");
  }
  if (t && t->timed()) line << ", p90/p50 " << fixed(t->spread(), 2) << (t->noisy ? " (noisy)" : "");
  const auto tested = model_test_.find(ref.id);
  if (role == "baseline" && base_test_) {
    m["test"] = {{primary, *base_test_}, {"delta", 0.0}, {"delta_interval", nullptr}};
    line << "; test " << fixed(*base_test_, 2);
  } else if (tested != model_test_.end() && tested->second.value) {
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
}

// How Δ, SQNR, agreement, test and eligibility were measured, and how the best was chosen.
std::string Rank::legend() const {
  std::ostringstream md;
  md << "\nΔ: against " << (base_ref_ ? base_ref_->id : std::string("fp32"))
     << (bootstrap_ ? ", evaluated by rank on the same eval examples; interval: paired bootstrap, " +
                          std::to_string(s_.resamples) + " resamples, seed " + std::to_string(ctx_->seed())
                    : " (each candidate's manifest reference; no interval)")
     << ". SQNR and agreement: output logits and predictions against the fp32 model each candidate was made from"
     << (std::any_of(cands_.begin(), cands_.end(), [](const Candidate& c) { return c.sqnr_source == "ptq"; })
             ? " (* the ptq cell's own figure on its first sensitivity_samples features)"
             : "")
     << (!test_json_.is_null() ? ". Test: the held-out split, evaluated after the choice only to report it (baseline " +
                                     (base_test_ ? fixed(*base_test_, 2) : std::string("not evaluated")) + ")"
                               : std::string())
     << ". Eligible: within max_metric_drop" << (s_.has_max_drop ? " (" + fixed(s_.max_drop, 2) + ")" : " (none set)")
     << " and, for INT8, SQNR ≥ " << fixed(s_.min_sqnr, 1) << " dB.";
  if (choice_.contains("decided_by"))
    md << " Chosen among the " << choice_["within_noise"].size() << " eligible candidate(s) within noise of "
       << choice_["best_metric"].get<std::string>() << " (" << fixed(choice_["best_metric_value"].get<double>(), 2)
       << "): highest SQNR (within " << fixed(s_.fidelity_tolerance, 1) << " dB), then lowest latency; decided by "
       << choice_["decided_by"].get<std::string>() << ".";
  md << "\n";
  return md.str();
}

// ranking.md's latency paragraph, and ranking.json's "bench".
std::string Rank::bench_text(Json& bench_json) const {
  const TimingRounds& b = s_.bench;
  const auto& batches = b.options.batches;
  std::ostringstream line;
  line << "\nLatency: slimpipe_runtime (as `slimpipe bench`), " << b.options.threads << " thread(s), seq "
       << (b.options.seq > 0 ? std::to_string(b.options.seq) : std::string("min(128, max_position_embeddings)"))
       << ", p50 of " << b.rounds << " rounds x up to " << b.options.iters << " runs, isa "
       << exporter::runtime_cpu_isa() << "; a model whose p90/p50 exceeds " << fixed(b.max_spread, 2)
       << " is timed again (" << b.retries << "x), and marked noisy if it stays so; OpenMP wait policy "
       << exporter::omp_wait_policy() << ".";
  if (b.options.threads > 1 && exporter::omp_wait_policy() != "passive" && exporter::omp_wait_policy() != "PASSIVE")
    line << " With " << b.options.threads << " threads on shared cores run with OMP_WAIT_POLICY=passive or "
         << "bench_threads = 1 (docs/runtime.md).";
  Json base = nullptr;
  if (baseline_.timed()) {
    line << " Speedup against " << baseline_label_ << " (" << baseline_.precision << "):";
    for (std::size_t i = 0; i < batches.size(); ++i)
      line << " " << ms_text(baseline_, i) << " ms at batch " << batches[i] << (i + 1 < batches.size() ? "," : ".");
    if (baseline_.noisy) line << " The baseline's timing is noisy (p90/p50 " << fixed(baseline_.spread(), 2) << ").";
    base = {{"id", baseline_label_},
            {"dir", baseline_.model_dir.string()},
            {"latency", latency_json(baseline_)},
            {"latency_noisy", baseline_.noisy}};
  } else if (!baseline_.note.empty()) {
    line << " Baseline " << baseline_label_ << ": " << baseline_.note << ".";
  } else {
    line << " No fp32 baseline found (set baseline = \"<candidate id>\").";
  }
  bench_json = {{"threads", b.options.threads},
                {"seq", b.options.seq > 0 ? Json(b.options.seq) : Json(nullptr)},
                {"batches", batches},
                {"rounds", b.rounds},
                {"iters", b.options.iters},
                {"max_spread", b.max_spread},
                {"retries", b.retries},
                {"omp_wait_policy", exporter::omp_wait_policy()},
                {"isa", exporter::runtime_cpu_isa()},
                {"baseline", base}};
  return line.str() + "\n";
}

void Rank::write_files() {
  auto& out = ctx_->output();
  const Candidate& best = cands_[order_.front()];
  std::ostringstream csv, md;
  Json rows = Json::array(), models = Json::array();
  write_table(csv, md, rows);
  std::ostringstream model_lines;
  if (base_ref_)
    model_lines << model_line("baseline", *base_ref_,
                              baseline_.timed() || !baseline_.note.empty() ? &baseline_ : nullptr, models)
                << "\n";
  for (const auto& ref : own_parents_) {
    const auto t = parent_timing_.find(ref.id);
    model_lines << model_line("fp32 parent", ref, t == parent_timing_.end() ? nullptr : &t->second, models) << "\n";
  }
  if (!model_lines.str().empty())
    md << "\nfp32 models (Δ against the baseline, on the same examples):\n" << model_lines.str();
  md << legend();
  Json bench_json = nullptr;
  if (s_.bench.enabled) md << bench_text(bench_json);
  // Checked writes: a full disk fails the node with "<file>: write failed: No space left on device".
  write_file_atomic(out.dir() / "ranking.csv", csv.str());
  write_file_atomic(out.dir() / "ranking.md", md.str());
  table_md_ = md.str();
  const Json summary = {{"primary", best.primary},
                        {"objective", s_.objective},
                        {"max_metric_drop", s_.has_max_drop ? Json(s_.max_drop) : Json(nullptr)},
                        {"min_logit_sqnr_db", s_.min_sqnr},
                        {"best", best.artifact->id()},
                        {"best_meets_max_drop", best.meets},
                        {"best_eligible", best.excluded.empty()},
                        {"baseline", base_ref_ ? Json(base_ref_->id) : Json(nullptr)},
                        {"choice", choice_},
                        {"evaluation", evaluation_},
                        {"test", test_json_},
                        {"bench", bench_json},
                        {"models", models},
                        {"candidates", rows}};
  write_file_atomic(out.dir() / "ranking.json", summary.dump(2) + "\n");
  summary_ = summary;
}

}  // namespace slimpipe::ranking
