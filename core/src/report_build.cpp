// Building the run report (report.hpp): rows from pipeline.lock and every artifact's manifest.json, the
// pipeline's input model as a row, pipeline order, Δ against the root of each chain, and what rank nodes
// measured (intervals, fidelity, latency, the best). report.cpp renders it.
#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include "report_util.hpp"
#include "slimpipe/core/artifact_store.hpp"
#include "slimpipe/core/lockfile.hpp"
#include "slimpipe/core/report.hpp"
#include "slimpipe/error.hpp"
#include "slimpipe/model_manifest.hpp"
#include "slimpipe/version.hpp"

namespace slimpipe::core {

namespace {

using report_util::common_primary;
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

// The row's columns from its manifest's "model" block (slimpipe/model_manifest.hpp), where it has one.
void fill_from_manifest(ReportRow& row, const Json& m, const std::string& where) {
  if (const std::string id = text(m, "id"); !id.empty()) row.id = id;
  row.kind = text(m, "kind");
  const auto mm = ModelManifest::read(m, where);
  if (!mm) return;
  row.primary = mm->primary_metric;
  if (!row.primary.empty()) row.metric = number(m.value("metrics", Json::object()), row.primary);
  row.param_count = mm->param_count;
  row.model_bytes = mm->model_bytes;
  row.width = mm->width;
  row.label = mm->label;
  row.logit_sqnr_db = mm->logit_sqnr_db;
  row.agreement = mm->agreement;
  row.latency = mm->latency;
  row.latency_noisy = mm->latency_noisy;
}

// A node's entry in the report's list of assessments: its own summary, with its id and paragraph.
Json assessment_summary(const ReportRow& row, const Assessment& a) {
  Json summary = a.summary;
  summary["id"] = row.id;
  summary["best"] = a.best;
  summary["baseline"] = a.baseline;
  summary["section"] = a.section;
  summary["details"] = a.details.empty() ? Json(nullptr) : Json(row.path + "/" + a.details);
  return summary;
}

// The interval is the assessing node's, against its baseline: it goes with the report's Δ only when both are
// against the same model.
void take_interval(ReportRow& r, const AssessedModel& m, const std::string& baseline) {
  if (!m.delta_low || !m.delta_high || baseline.empty() || r.baseline != baseline) return;
  r.delta_low = m.delta_low;
  r.delta_high = m.delta_high;
}

// The report under construction, with its indexes: manifests, their model blocks and assessments by artifact id,
// rows by id.
class ReportBuilder {
 public:
  ReportBuilder(const fs::path& run_dir, RunReport& report) : run_dir_(run_dir), report_(report) {}

  void read_rows(const std::vector<LockEntry>& entries);
  void add_input_models();
  void order_rows();
  void fill_missing_primary();
  void compute_deltas();
  void apply_assessments();
  void read_sensitivities();

 private:
  void read_artifact(ReportRow& row);
  void apply_assessment(ReportRow& node_row, const Assessment& a);
  std::optional<double> input_metric(const std::string& input, const std::string& primary) const;
  ReportRow* find_row(const std::string& id) {
    const auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : it->second;
  }
  // The artifact a row was made from: its input model, else its only parent.
  std::string upstream(const std::string& id) const {
    if (const auto it = models_.find(id); it != models_.end() && it->second.input_model)
      return it->second.input_model->id;
    const auto it = manifests_.find(id);
    if (it == manifests_.end()) return "";
    const Json& m = it->second;
    if (m.contains("parents") && m["parents"].is_array() && m["parents"].size() == 1)
      return text(m["parents"][0], "id");
    return "";
  }

  fs::path run_dir_;
  RunReport& report_;
  std::map<std::string, Json> manifests_;          // by artifact id
  std::map<std::string, ModelManifest> models_;    // their "model" blocks
  std::map<std::string, Assessment> assessments_;  // their "assessment" blocks
  std::map<std::string, ReportRow*> by_id_;        // filled once rows keep their places (compute_deltas)
};

// One artifact's manifest and contract blocks; what is wrong with them goes in the row's error.
void ReportBuilder::read_artifact(ReportRow& row) {
  const fs::path file = run_dir_ / row.path / "manifest.json";
  std::string problem;
  const auto m = read_json(file, problem);
  if (m && !m->is_object()) problem = "manifest.json is not a JSON object";
  if (!problem.empty()) {
    row.error = row.path + "/" + problem;
    return;
  }
  try {
    fill_from_manifest(row, *m, file.string());
    if (const auto mm = ModelManifest::read(*m, file.string())) models_[row.id] = *mm;
    if (auto a = Assessment::read(*m, file.string())) assessments_[row.id] = std::move(*a);
  } catch (const Error& e) {
    row.error = e.what();
  }
  manifests_[row.id] = *m;
}

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
      read_artifact(row);
      report_.rows.push_back(std::move(row));
    }
  }
}

// The metric of `input` (a model outside the run): as an assessing node measured it, else as the first artifact
// made from it recorded it (its input_metric: ptq, dynabert).
std::optional<double> ReportBuilder::input_metric(const std::string& input, const std::string& primary) const {
  for (const auto& [node, a] : assessments_)
    for (const auto& m : a.models)
      if (m.id == input && m.metric) return m.metric;
  for (const auto& [child_id, child] : models_)
    if (child.input_model && child.input_model->id == input && child.primary_metric == primary && child.input_metric)
      return child.input_metric;
  return std::nullopt;
}

// The pipeline's input model ([model]: the user's model, outside the run folder) is a row too, so every Δ can
// read against it.
void ReportBuilder::add_input_models() {
  std::set<std::string> ids;
  for (const auto& row : report_.rows) ids.insert(row.id);
  std::vector<ReportRow> inputs;
  for (const auto& [id, mm] : models_) {
    if (!mm.input_model || mm.input_model->id.empty() || ids.count(mm.input_model->id)) continue;
    const ModelRef& input = *mm.input_model;
    ids.insert(input.id);
    ReportRow row;
    row.id = input.id;
    row.instance = input.id;
    row.node = input.id;
    row.kind = "model";
    row.status = "done";
    row.path = input.dir.string();
    row.primary = mm.primary_metric;
    if (!input.dir.empty()) row.model_bytes = model_weights_bytes(input.dir);
    if (!row.primary.empty()) row.metric = input_metric(input.id, row.primary);
    inputs.push_back(std::move(row));
  }
  report_.rows.insert(report_.rows.begin(), inputs.begin(), inputs.end());
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

// Nodes that measured other artifacts (rank): latency, interval, SQNR and agreement of each, the best.
void ReportBuilder::apply_assessments() {
  for (auto& row : report_.rows)
    if (const auto it = assessments_.find(row.id); it != assessments_.end()) apply_assessment(row, it->second);
}

void ReportBuilder::apply_assessment(ReportRow& node_row, const Assessment& a) {
  report_.assessments.push_back(assessment_summary(node_row, a));
  node_row.assessor = true;
  const ReportRow* best_row = nullptr;
  if (ReportRow* best = find_row(a.best)) {
    best->best = true;
    best->best_of = node_row.id;
    best_row = best;
  }
  for (const AssessedModel& m : a.models) {
    ReportRow* r = find_row(m.id);
    if (!r) continue;
    if (r->latency.empty() && !m.latency.empty()) {  // a model's own timing, or the first node's that timed it
      r->latency = m.latency;
      r->latency_noisy = m.latency_noisy;
    }
    take_interval(*r, m, a.baseline);
    if (m.logit_sqnr_db) r->logit_sqnr_db = m.logit_sqnr_db;
    if (m.agreement) r->agreement = m.agreement;
    // A model whose chain leaves the run (its input is the pipeline's [model], e.g. `slimpipe compress --strategy
    // ptq`): Δ as the node computed it, against its reference (the unpruned fp32 model).
    if (!r->delta && m.reference && m.delta) {
      r->baseline = a.baseline.empty() ? "reference" : a.baseline;
      r->baseline_metric = m.reference;
      r->delta = m.delta;
      take_interval(*r, m, a.baseline);
    }
  }
  // The node's own artifact is the best model, or a new one it made (rank's fallback), which it measured too.
  if (a.self) {
    take_interval(node_row, *a.self, a.baseline);
    if (a.self->logit_sqnr_db) node_row.logit_sqnr_db = a.self->logit_sqnr_db;
    if (a.self->agreement) node_row.agreement = a.self->agreement;
    if (!a.self->latency.empty()) {
      node_row.latency = a.self->latency;
      node_row.latency_noisy = a.self->latency_noisy;
    }
  } else if (best_row && node_row.baseline == best_row->baseline) {
    node_row.delta_low = best_row->delta_low;
    node_row.delta_high = best_row->delta_high;
    node_row.logit_sqnr_db = best_row->logit_sqnr_db;
    node_row.agreement = best_row->agreement;
    node_row.latency_noisy = best_row->latency_noisy;
  }
}

// The chosen quantized models' per-site sensitivity, as their model blocks record it.
void ReportBuilder::read_sensitivities() {
  for (std::size_t i = 0; i < report_.rows.size(); ++i) {
    const ReportRow& row = report_.rows[i];
    if (!row.best || row.kind != "quantized_model") continue;
    const auto it = models_.find(row.id);
    if (it == models_.end() || it->second.site_sensitivity.empty()) continue;
    report_.sensitivities.push_back({i, it->second.site_sensitivity});
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
  b.add_input_models();
  b.order_rows();
  b.fill_missing_primary();
  b.compute_deltas();
  b.apply_assessments();
  b.read_sensitivities();
  return report;
}

}  // namespace slimpipe::core
