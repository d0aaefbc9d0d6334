// Building the run report (report.hpp): rows from pipeline.lock and every artifact's manifest.json, the
// pipeline's input model as a row, pipeline order, Δ against the root of each chain, and what rank nodes
// measured (intervals, fidelity, latency, the best). report.cpp renders it.
#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "report_util.hpp"
#include "slimpipe/core/artifact_store.hpp"
#include "slimpipe/core/lockfile.hpp"
#include "slimpipe/core/report.hpp"
#include "slimpipe/error.hpp"
#include "slimpipe/version.hpp"

namespace slimpipe::core {

namespace {

using report_util::common_primary;
using report_util::integer;
using report_util::number;
using report_util::text;

std::optional<Json> read_json(const fs::path& p, std::string& problem) {
  std::ifstream in(p);
  if (!in) {
    problem = p.filename().string() + " is missing";
    return std::nullopt;
  }
  try {
    return Json::parse(in);
  } catch (const std::exception& e) {
    problem = p.filename().string() + " is not valid JSON (" + e.what() + ")";
    return std::nullopt;
  }
}

// The size of `name` as the manifest's file list records it.
std::optional<std::int64_t> file_size(const Json& manifest, const std::string& name) {
  if (!manifest.contains("files") || !manifest["files"].is_array()) return std::nullopt;
  for (const auto& f : manifest["files"])
    if (text(f, "path") == name) return integer(f, "size");
  return std::nullopt;
}

void fill_from_manifest(ReportRow& row, const Json& m) {
  if (const std::string id = text(m, "id"); !id.empty()) row.id = id;
  row.kind = text(m, "kind");
  row.primary = text(m, "primary_metric");
  const Json metrics = m.value("metrics", Json::object());
  if (!row.primary.empty()) row.metric = number(metrics, row.primary);
  row.param_count = integer(m, "param_count");
  row.model_bytes = integer(m, "size_bytes_int8");
  if (!row.model_bytes) row.model_bytes = file_size(m, "model.safetensors");
  row.width = number(m, "width");
  if (m.contains("ptq") && m["ptq"].is_object()) row.cell = text(m["ptq"], "paddle_name");
  row.logit_sqnr_db = number(metrics, "logit_sqnr_db");
  row.agreement = number(metrics, "agreement");
  // Where rank copied its best (or a plugin recorded its own timing): p50_ms_b<N> and speedup_b<N>.
  if (metrics.is_object())
    for (const auto& [key, value] : metrics.items()) {
      if (key.rfind("p50_ms_b", 0) != 0 || !value.is_number()) continue;
      try {
        const std::int64_t batch = std::stoll(key.substr(8));
        ReportLatency l;
        l.p50_ms = value.get<double>();
        l.speedup = number(metrics, "speedup_b" + std::to_string(batch));
        row.latency[batch] = l;
      } catch (const std::exception&) {
      }
    }
}

// A rank node's summary line in the report: its choice, limits and bench settings.
Json ranking_summary(const ReportRow& row, const Json& rk) {
  Json summary = {{"id", row.id},
                  {"ranking", row.path + "/ranking.md"},
                  {"best", rk.value("best", Json())},
                  {"best_meets_max_drop", rk.value("best_meets_max_drop", Json())},
                  {"objective", rk.value("objective", Json())},
                  {"max_metric_drop", rk.value("max_metric_drop", Json())},
                  {"min_logit_sqnr_db", rk.value("min_logit_sqnr_db", Json())},
                  {"choice", rk.value("choice", Json())},
                  {"baseline", rk.value("baseline", Json())},
                  {"primary", rk.value("primary", Json())},
                  {"bench", Json::object()}};
  const Json bench = rk.value("bench", Json::object());
  if (bench.is_object() && !bench.empty())
    summary["bench"] = {{"isa", bench.value("isa", Json())},
                        {"threads", bench.value("threads", Json())},
                        {"batches", bench.value("batches", Json())},
                        {"baseline", bench.contains("baseline") ? text(bench["baseline"], "id") : ""}};
  return summary;
}

// {"batch_<N>": {p50_ms, p90_ms, speedup}} by batch size.
std::map<std::int64_t, ReportLatency> latencies(const Json& lat) {
  std::map<std::int64_t, ReportLatency> out;
  if (!lat.is_object()) return out;
  for (const auto& [key, v] : lat.items()) {
    if (key.rfind("batch_", 0) != 0 || !v.is_object()) continue;
    try {
      ReportLatency l;
      l.p50_ms = v.value("p50_ms", 0.0);
      l.p90_ms = v.value("p90_ms", 0.0);
      l.speedup = number(v, "speedup");
      out[std::stoll(key.substr(6))] = l;
    } catch (const std::exception&) {
    }
  }
  return out;
}

// The interval is rank's, against rank's baseline: it goes with the report's Δ only when both are against the
// same model.
void take_interval(ReportRow& r, const Json& j, const std::string& rank_baseline) {
  if (!j.contains("delta_interval") || !j["delta_interval"].is_array() || j["delta_interval"].size() != 2) return;
  if (rank_baseline.empty() || r.baseline != rank_baseline) return;
  if (!j["delta_interval"][0].is_number() || !j["delta_interval"][1].is_number()) return;
  r.delta_low = j["delta_interval"][0].get<double>();
  r.delta_high = j["delta_interval"][1].get<double>();
}

// The report under construction, with its indexes: manifests and rank nodes' rankings by id, rows by id.
class ReportBuilder {
 public:
  ReportBuilder(const fs::path& run_dir, RunReport& report) : run_dir_(run_dir), report_(report) {}

  void read_rows(const std::vector<LockEntry>& entries);
  void read_rankings();
  void add_input_models();
  void order_rows();
  void fill_missing_primary();
  void compute_deltas();
  void apply_rankings();
  void read_sensitivities();

 private:
  void apply_ranking(ReportRow& rank_row, const Json& rk);
  ReportRow* find_row(const std::string& id) {
    const auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : it->second;
  }
  // The artifact a row was made from: its input model, else its only parent.
  std::string upstream(const std::string& id) const {
    const auto it = manifests_.find(id);
    if (it == manifests_.end()) return "";
    const Json& m = it->second;
    if (m.contains("input_model") && m["input_model"].is_object()) return text(m["input_model"], "id");
    if (m.contains("parents") && m["parents"].is_array() && m["parents"].size() == 1)
      return text(m["parents"][0], "id");
    return "";
  }

  fs::path run_dir_;
  RunReport& report_;
  std::map<std::string, Json> manifests_;    // by artifact id
  std::map<std::string, Json> rankings_;     // by the rank row's id
  std::map<std::string, ReportRow*> by_id_;  // filled once rows keep their places (compute_deltas)
};

void ReportBuilder::read_rows(const std::vector<LockEntry>& entries) {
  for (const auto& e : entries) {
    ReportRow base;
    base.instance = e.id;
    base.node = e.id.substr(0, e.id.find('@'));
    base.plugin = text(e.plugin, "name");
    base.status = e.status;
    base.error = e.error;
    base.seconds = e.seconds;
    base.finished = e.finished;
    if (e.status != "done" || !e.outputs.is_object() || e.outputs.empty()) {
      base.id = e.id;
      report_.rows.push_back(base);
      continue;
    }
    for (const auto& [name, out] : e.outputs.items()) {
      ReportRow row = base;
      row.path = text(out, "path");
      row.id = name.empty() ? e.id : e.id + "/" + name;
      std::string problem;
      const auto m = read_json(run_dir_ / row.path / "manifest.json", problem);
      if (m && !m->is_object()) problem = "manifest.json is not a JSON object";
      if (problem.empty()) {
        fill_from_manifest(row, *m);
        manifests_[row.id] = *m;
      } else {
        row.error = row.path + "/" + problem;
      }
      report_.rows.push_back(std::move(row));
    }
  }
}

// Rank nodes' ranking.json, read once.
void ReportBuilder::read_rankings() {
  for (const auto& row : report_.rows) {
    if (row.status != "done" || row.path.empty() || !fs::exists(run_dir_ / row.path / "ranking.json")) continue;
    std::string problem;
    const auto rk = read_json(run_dir_ / row.path / "ranking.json", problem);
    if (rk && rk->is_object()) rankings_[row.id] = *rk;
  }
}

// The pipeline's input model ([model]: the user's model, outside the run folder) is a row too, so every Δ can
// read against it: its metric as a rank node measured it, else as the first artifact made from it recorded it
// (input_<metric>: ptq, dynabert).
void ReportBuilder::add_input_models() {
  {
    std::set<std::string> ids;
    for (const auto& row : report_.rows) ids.insert(row.id);
    std::vector<ReportRow> inputs;
    for (const auto& [id, m] : manifests_) {
      if (!m.contains("input_model") || !m["input_model"].is_object()) continue;
      const std::string input = text(m["input_model"], "id");
      if (input.empty() || ids.count(input)) continue;
      ids.insert(input);
      ReportRow row;
      row.id = input;
      row.instance = input;
      row.node = input;
      row.kind = "model";
      row.status = "done";
      row.path = text(m["input_model"], "dir");
      row.primary = text(m, "primary_metric");
      if (!row.path.empty() && fs::exists(fs::path(row.path) / "model.safetensors"))
        row.model_bytes = static_cast<std::int64_t>(fs::file_size(fs::path(row.path) / "model.safetensors"));
      for (const auto& [rank_id, rk] : rankings_)
        for (const auto& model : rk.value("models", Json::array()))
          if (text(model, "id") == input && !row.metric && !row.primary.empty())
            row.metric = number(model, row.primary);
      if (!row.metric && !row.primary.empty())
        for (const auto& [child_id, child] : manifests_)
          if (child.contains("input_model") && child["input_model"].is_object() &&
              text(child["input_model"], "id") == input && text(child, "primary_metric") == row.primary)
            if (const auto v = number(child.value("metrics", Json::object()), "input_" + row.primary)) {
              row.metric = v;
              break;
            }
      inputs.push_back(std::move(row));
    }
    report_.rows.insert(report_.rows.begin(), inputs.begin(), inputs.end());
  }
}

// Pipeline order: by depth in the artifact graph (manifest parents), then by finishing time; instances
// that finish in the same second would otherwise come out in id order, an evaluation before its model.
void ReportBuilder::order_rows() {
  std::map<std::string, int> depth;
  std::function<int(const std::string&, int)> depth_of = [&](const std::string& id, int guard) -> int {
    if (const auto it = depth.find(id); it != depth.end()) return it->second;
    int d = 0;
    const auto m = manifests_.find(id);
    if (m != manifests_.end() && guard < 64 && m->second.contains("parents") && m->second["parents"].is_array())
      for (const auto& parent : m->second["parents"]) {
        const std::string pid = text(parent, "id");
        if (manifests_.count(pid)) d = std::max(d, 1 + depth_of(pid, guard + 1));
      }
    return depth[id] = d;
  };
  for (const auto& row : report_.rows) depth_of(row.id, 0);
  std::stable_sort(report_.rows.begin(), report_.rows.end(), [&](const ReportRow& a, const ReportRow& b) {
    const int da = a.status == "done" ? depth[a.id] : 1 << 20, db = b.status == "done" ? depth[b.id] : 1 << 20;
    return da != db ? da < db : a.finished < b.finished;
  });
}

// An artifact that names no primary metric (from an older finetune, or a third-party plugin) is scored
// by the one the others use, when its metrics have it.
void ReportBuilder::fill_missing_primary() {
  const std::string primary = common_primary(report_.rows);
  if (!primary.empty())
    for (auto& row : report_.rows)
      if (row.primary.empty() && manifests_.count(row.id)) {
        const Json metrics = manifests_[row.id].value("metrics", Json::object());
        if (const auto v = number(metrics, primary)) {
          row.primary = primary;
          row.metric = v;
        }
      }
}

// Δ against the root of each artifact's chain: input_model for models, the (first) parent otherwise. Rows keep
// their places from here on: pointers into report_.rows stay valid.
void ReportBuilder::compute_deltas() {
  for (auto& row : report_.rows) by_id_[row.id] = &row;
  for (auto& row : report_.rows) {
    // The furthest ancestor that has the row's metric (a pretrained model without a task head has none).
    std::string root, next = upstream(row.id);
    for (int hops = 0; !next.empty() && by_id_.count(next) && hops < 64; ++hops) {
      const ReportRow& ancestor = *by_id_[next];
      if (ancestor.metric && ancestor.primary == row.primary)
        root = next;
      else if (root.empty() && !row.metric)
        root = next;
      next = upstream(next);
    }
    if (root.empty() || root == row.id) continue;
    row.baseline = root;
    const ReportRow& b = *by_id_[root];
    if (b.metric && row.metric && b.primary == row.primary) {
      row.baseline_metric = b.metric;
      row.delta = *row.metric - *b.metric;
    }
  }
}

// Rank nodes: per-candidate latency, interval, SQNR and agreement; the baseline's and fp32 models' latency; the
// best.
void ReportBuilder::apply_rankings() {
  for (auto& rank_row : report_.rows) {
    const auto found = rankings_.find(rank_row.id);
    if (found != rankings_.end()) apply_ranking(rank_row, found->second);
  }
}

void ReportBuilder::apply_ranking(ReportRow& rank_row, const Json& rk) {
  report_.rankings.push_back(ranking_summary(rank_row, rk));
  if (ReportRow* best = find_row(text(rk, "best"))) {
    best->best = true;
    best->best_of = rank_row.id;
  }
  const Json bench = rk.value("bench", Json::object());
  const Json baseline = bench.is_object() && bench.contains("baseline") && bench["baseline"].is_object()
                            ? bench["baseline"]
                            : Json::object();
  const std::string reference_id = text(baseline, "id");
  if (ReportRow* b = find_row(reference_id); b && b->latency.empty()) {
    b->latency = latencies(baseline.value("latency", Json::object()));
    for (auto& [batch, l] : b->latency) l.speedup = 1.0;
  }
  const std::string rank_baseline = text(rk, "baseline");
  for (const auto& m : rk.value("models", Json::array())) {
    if (!m.is_object()) continue;
    ReportRow* r = find_row(text(m, "id"));
    if (!r) continue;
    if (r->latency.empty()) {
      r->latency = latencies(m.value("latency", Json::object()));
      r->latency_noisy = m.value("latency_noisy", false);
    }
    take_interval(*r, m, rank_baseline);
  }
  const ReportRow* best_row = nullptr;
  for (const auto& c : rk.value("candidates", Json::array())) {
    if (!c.is_object()) continue;
    ReportRow* r = find_row(text(c, "id"));
    if (!r) continue;
    if (text(c, "id") == text(rk, "best")) best_row = r;
    if (r->latency.empty()) {
      r->latency = latencies(c.value("latency", Json::object()));
      r->latency_noisy = c.value("latency_noisy", false);
    }
    take_interval(*r, c, rank_baseline);
    if (const auto v = number(c, "logit_sqnr_db")) r->logit_sqnr_db = v;
    if (const auto v = number(c, "agreement")) r->agreement = v;
    // A candidate whose chain leaves the run (its input is the pipeline's [model], e.g. `slimpipe compress
    // --strategy ptq`): Δ as rank computed it, against its reference (the unpruned fp32 model).
    if (!r->delta && number(c, "reference") && number(c, "delta")) {
      r->baseline = reference_id.empty() ? "rank reference" : reference_id;
      r->baseline_metric = number(c, "reference");
      r->delta = number(c, "delta");
      take_interval(*r, c, rank_baseline);
    }
  }
  // The rank node's own artifact is the best candidate, or what the fallback made of it (rank evaluated that too).
  const Json fallback = rk.value("fallback", Json());
  if (fallback.is_object() && fallback.contains("evaluation") && fallback["evaluation"].is_object()) {
    const Json& e = fallback["evaluation"];
    take_interval(rank_row, e, rank_baseline);
    if (const auto v = number(e, "logit_sqnr_db")) rank_row.logit_sqnr_db = v;
    if (const auto v = number(e, "agreement")) rank_row.agreement = v;
  } else if (best_row && fallback.is_null() && rank_row.baseline == best_row->baseline) {
    rank_row.delta_low = best_row->delta_low;
    rank_row.delta_high = best_row->delta_high;
    rank_row.logit_sqnr_db = best_row->logit_sqnr_db;
    rank_row.agreement = best_row->agreement;
    rank_row.latency_noisy = best_row->latency_noisy;
  }
}

// The chosen INT8 models' per-site sensitivity (ptq's sensitivity.csv: rank, site, kind, output_sqnr_db, ...).
void ReportBuilder::read_sensitivities() {
  for (std::size_t i = 0; i < report_.rows.size(); ++i) {
    const ReportRow& row = report_.rows[i];
    if (!row.best || row.path.empty() || row.kind.find("quantized") == std::string::npos) continue;
    std::ifstream in(run_dir_ / row.path / "sensitivity.csv");
    std::string line;
    if (!in || !std::getline(in, line)) continue;
    RunReport::Sensitivity sens{i, {}};
    while (std::getline(in, line)) {
      std::vector<std::string> f;
      std::stringstream ls(line);
      for (std::string cell; std::getline(ls, cell, ',');) f.push_back(cell);
      if (f.size() < 4) continue;
      try {
        sens.sites.emplace_back(f[1], std::stod(f[3]));
      } catch (const std::exception&) {  // a damaged line: left out
      }
    }
    if (!sens.sites.empty()) report_.sensitivities.push_back(std::move(sens));
  }
}

}  // namespace

RunReport build_run_report(const fs::path& run_dir, const std::string& pipeline_name, const std::string& host_isa) {
  if (!fs::exists(run_dir / "pipeline.lock") && !fs::exists(run_dir / "pipeline.lock.journal"))
    throw Error(run_dir.string() +
                ": no pipeline.lock: not the output folder of a slimpipe run (run the pipeline first)");
  Lockfile lock(run_dir);
  lock.load();

  RunReport report;
  report.pipeline = !pipeline_name.empty() ? pipeline_name : lock.pipeline();
  if (report.pipeline.empty()) report.pipeline = fs::absolute(run_dir).lexically_normal().filename().string();
  if (report.pipeline.empty())
    report.pipeline = fs::absolute(run_dir).lexically_normal().parent_path().filename().string();
  report.run_dir = run_dir;
  report.generated = utc_now_iso();
  report.host_isa = host_isa;
  report.version = SLIMPIPE_VERSION_STRING;

  ReportBuilder b(run_dir, report);
  b.read_rows(lock.entries());
  b.read_rankings();
  b.add_input_models();
  b.order_rows();
  b.fill_missing_primary();
  b.compute_deltas();
  b.apply_rankings();
  b.read_sensitivities();
  return report;
}

}  // namespace slimpipe::core
