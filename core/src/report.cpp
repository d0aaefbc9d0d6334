// The run-level report (report.hpp): rows from pipeline.lock + manifest.json, latencies from rank
// nodes' ranking.json, rendered as Markdown, HTML, CSV and JSON.
#include "slimpipe/core/report.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <iomanip>
#include <set>
#include <sstream>

#include "slimpipe/core/artifact_store.hpp"
#include "slimpipe/core/lockfile.hpp"
#include "slimpipe/error.hpp"
#include "slimpipe/version.hpp"

#include "report_plots.hpp"

namespace slimpipe::core {

namespace {

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

std::optional<double> number(const Json& j, const std::string& key) {
  if (j.is_object() && j.contains(key) && j[key].is_number()) return j[key].get<double>();
  return std::nullopt;
}

std::optional<std::int64_t> integer(const Json& j, const std::string& key) {
  if (j.is_object() && j.contains(key) && j[key].is_number_integer()) return j[key].get<std::int64_t>();
  return std::nullopt;
}

std::string text(const Json& j, const std::string& key) {
  if (j.is_object() && j.contains(key) && j[key].is_string()) return j[key].get<std::string>();
  return "";
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

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

std::string signed_fixed(double v, int digits) {
  if (std::fabs(v) < 0.5 * std::pow(10.0, -digits)) v = 0.0;  // no "-0.00"
  return (v > 0 ? "+" : "") + fixed(v, digits);
}

std::string megabytes(const std::optional<std::int64_t>& b) {
  return b ? fixed(static_cast<double>(*b) / 1e6, *b < 10'000'000 ? 3 : 1) : "";
}

std::string millions(const std::optional<std::int64_t>& n) {
  return n ? fixed(static_cast<double>(*n) / 1e6, *n < 10'000'000 ? 3 : 1) : "";
}

bool is_model(const ReportRow& r) { return r.kind.find("model") != std::string::npos; }

// The metric the rows share, or "" when they disagree (then each cell names its metric).
std::string common_primary(const std::vector<ReportRow>& rows) {
  std::set<std::string> names;
  for (const auto& r : rows)
    if (!r.primary.empty()) names.insert(r.primary);
  return names.size() == 1 ? *names.begin() : "";
}

struct Column {
  std::string header;
  std::vector<std::string> cells;
  bool numeric = true;
};

// The columns of one table of rows (models or evaluations); empty columns are left out.
std::vector<Column> columns(const std::vector<const ReportRow*>& rows, const std::vector<std::int64_t>& batches,
                            const std::string& primary, bool models) {
  std::vector<Column> cols;
  auto add = [&](std::string header, bool numeric, auto cell) {
    Column c{std::move(header), {}, numeric};
    bool any = false;
    for (const ReportRow* r : rows) {
      c.cells.push_back(cell(*r));
      any = any || !c.cells.back().empty();
    }
    if (any || c.header == "artifact") cols.push_back(std::move(c));
  };
  add("artifact", false, [](const ReportRow& r) { return r.best ? r.id + " (best of " + r.best_of + ")" : r.id; });
  add("kind", false, [](const ReportRow& r) { return r.kind; });
  if (models) {
    add("width", true, [](const ReportRow& r) { return r.width ? fixed(*r.width, 2) : ""; });
    add("cell", false, [](const ReportRow& r) { return r.cell; });
  }
  add(primary.empty() ? "metric" : primary, true, [&](const ReportRow& r) -> std::string {
    if (!r.metric) return "";
    return primary.empty() ? r.primary + " " + fixed(*r.metric, 2) : fixed(*r.metric, 2);
  });
  add("baseline", false, [](const ReportRow& r) { return r.baseline; });
  add("Δ", true, [](const ReportRow& r) { return r.delta ? signed_fixed(*r.delta, 2) : ""; });
  add("Δ CI", true, [](const ReportRow& r) {
    return r.delta_low && r.delta_high ? "[" + signed_fixed(*r.delta_low, 2) + ", " + signed_fixed(*r.delta_high, 2) + "]"
                                       : std::string();
  });
  if (models) {
    add("SQNR dB", true, [](const ReportRow& r) {
      if (!r.logit_sqnr_db) return std::string();
      return *r.logit_sqnr_db >= 999.0 ? std::string("∞") : fixed(*r.logit_sqnr_db, 1);  // rank's 999: identical outputs
    });
    add("agree %", true, [](const ReportRow& r) { return r.agreement ? fixed(100 * *r.agreement, 1) : ""; });
    add("model MB", true, [](const ReportRow& r) { return megabytes(r.model_bytes); });
    add("params M", true, [](const ReportRow& r) { return millions(r.param_count); });
    for (const std::int64_t b : batches) {
      add("p50 ms b" + std::to_string(b), true, [b](const ReportRow& r) {
        const auto it = r.latency.find(b);
        return it == r.latency.end() ? std::string() : fixed(it->second.p50_ms, 3);
      });
      add("speedup b" + std::to_string(b), true, [b](const ReportRow& r) {
        const auto it = r.latency.find(b);
        return it == r.latency.end() || !it->second.speedup ? std::string() : fixed(*it->second.speedup, 2) + "×";
      });
    }
    add("p90/p50", true, [](const ReportRow& r) {
      double spread = 0;
      for (const auto& [b, l] : r.latency)
        if (l.p50_ms > 0 && l.p90_ms > 0) spread = std::max(spread, l.p90_ms / l.p50_ms);
      return spread > 0 ? fixed(spread, 2) + (r.latency_noisy ? " noisy" : "") : std::string();
    });
  }
  add("s", true, [](const ReportRow& r) { return fixed(r.seconds, 1); });
  return cols;
}

std::string md_cell(const std::string& s) {
  std::string out;
  for (const char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

using plots::html_escape;

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::vector<const ReportRow*> select(const std::vector<ReportRow>& rows, bool models) {
  std::vector<const ReportRow*> out;
  for (const auto& r : rows)
    if (r.status == "done" && is_model(r) == models) out.push_back(&r);
  return out;
}

std::string summary_line(const RunReport& r) {
  std::size_t done = 0, failed = 0;
  std::set<std::string> instances;
  for (const auto& row : r.rows) {
    if (!instances.insert(row.instance).second) continue;
    (row.status == "done" ? done : failed)++;
  }
  return std::to_string(instances.size()) + " instances: " + std::to_string(done) + " done, " +
         std::to_string(failed) + " failed";
}

std::string bench_line(const Json& rk) {
  const Json bench = rk.value("bench", Json::object());
  if (bench.empty()) return "not timed";
  std::ostringstream s;
  s << "latency by slimpipe_runtime, " << bench.value("threads", Json(0)).dump() << " thread(s), isa "
    << text(bench, "isa") << ", speedup against " << text(bench, "baseline");
  return s.str();
}

const char* const kModelsLegend =
    "Δ: metric minus the baseline's, the model at the root of the artifact's input chain (the pipeline's input "
    "model when it has one). Δ CI: the paired-bootstrap interval of Δ on the same eval examples, where a rank node "
    "evaluated the model against that baseline. SQNR dB and agree %: the output logits' SQNR and the share of "
    "examples predicted alike, against the fp32 model the row was made from. Model MB: the INT8 weights of a "
    "quantized model, model.safetensors otherwise. Latency and speedup: where a rank node timed the model with "
    "slimpipe_runtime; p90/p50 is its spread (noisy: still above rank's bench_max_spread after re-measuring).";

// "Best: X (objective …, max_metric_drop …, meets it: …); latency by …." for one rank node.
std::string ranking_sentence(const Json& rk) {
  const std::string best = text(rk, "best"), objective = text(rk, "objective");
  std::string limits;
  if (const auto drop = number(rk, "max_metric_drop"))
    limits += ", max_metric_drop " + fixed(*drop, 2) + " (met: " + rk.value("best_meets_max_drop", Json()).dump() + ")";
  else
    limits += ", no max_metric_drop";
  if (const auto sqnr = number(rk, "min_logit_sqnr_db")) limits += ", min_logit_sqnr_db " + fixed(*sqnr, 1);
  const Json choice = rk.value("choice", Json::object());
  if (choice.is_object() && choice.contains("decided_by") && choice.contains("within_noise") && choice["within_noise"].is_array())
    limits += "; " + std::to_string(choice["within_noise"].size()) + " candidate(s) within noise of the best metric, decided by " +
              text(choice, "decided_by");
  return "Best: " + (best.empty() ? std::string("none") : best) + " (objective " +
         (objective.empty() ? std::string("?") : objective) + limits + "); " + bench_line(rk) + ".";
}

// Every write checked (a full disk is an Error naming the file, not a short report), then renamed into place.
void write_file(const fs::path& path, const std::string& content) { write_file_durably(path, content); }

}  // namespace

std::vector<std::int64_t> RunReport::latency_batches() const {
  std::set<std::int64_t> b;
  for (const auto& r : rows)
    for (const auto& [batch, l] : r.latency) b.insert(batch);
  return {b.begin(), b.end()};
}

RunReport build_run_report(const fs::path& run_dir, const std::string& pipeline_name, const std::string& host_isa) {
  if (!fs::exists(run_dir / "pipeline.lock") && !fs::exists(run_dir / "pipeline.lock.journal"))
    throw Error(run_dir.string() + ": no pipeline.lock: not the output folder of a slimpipe run (run the pipeline first)");
  Lockfile lock(run_dir);
  lock.load();
  const std::vector<LockEntry> entries = lock.entries();

  RunReport report;
  report.pipeline = !pipeline_name.empty() ? pipeline_name : lock.pipeline();
  if (report.pipeline.empty()) report.pipeline = fs::absolute(run_dir).lexically_normal().filename().string();
  if (report.pipeline.empty()) report.pipeline = fs::absolute(run_dir).lexically_normal().parent_path().filename().string();
  report.run_dir = run_dir;
  report.generated = utc_now_iso();
  report.host_isa = host_isa;
  report.version = SLIMPIPE_VERSION_STRING;

  std::map<std::string, Json> manifests;  // by artifact id
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
      report.rows.push_back(base);
      continue;
    }
    for (const auto& [name, out] : e.outputs.items()) {
      ReportRow row = base;
      row.path = text(out, "path");
      row.id = name.empty() ? e.id : e.id + "/" + name;
      std::string problem;
      const auto m = read_json(run_dir / row.path / "manifest.json", problem);
      if (m && !m->is_object()) problem = "manifest.json is not a JSON object";
      if (problem.empty()) {
        fill_from_manifest(row, *m);
        manifests[row.id] = *m;
      } else {
        row.error = row.path + "/" + problem;
      }
      report.rows.push_back(std::move(row));
    }
  }

  // Rank nodes' ranking.json, read once.
  std::map<std::string, Json> rankings;  // by the rank row's id
  for (const auto& row : report.rows) {
    if (row.status != "done" || row.path.empty() || !fs::exists(run_dir / row.path / "ranking.json")) continue;
    std::string problem;
    const auto rk = read_json(run_dir / row.path / "ranking.json", problem);
    if (rk && rk->is_object()) rankings[row.id] = *rk;
  }

  // The pipeline's input model ([model]: the user's model, outside the run folder) is a row too, so every Δ can
  // read against it: its metric as a rank node measured it, else as the first artifact made from it recorded it
  // (input_<metric>: ptq, dynabert).
  {
    std::set<std::string> ids;
    for (const auto& row : report.rows) ids.insert(row.id);
    std::vector<ReportRow> inputs;
    for (const auto& [id, m] : manifests) {
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
      for (const auto& [rank_id, rk] : rankings)
        for (const auto& model : rk.value("models", Json::array()))
          if (text(model, "id") == input && !row.metric && !row.primary.empty()) row.metric = number(model, row.primary);
      if (!row.metric && !row.primary.empty())
        for (const auto& [child_id, child] : manifests)
          if (child.contains("input_model") && child["input_model"].is_object() &&
              text(child["input_model"], "id") == input && text(child, "primary_metric") == row.primary)
            if (const auto v = number(child.value("metrics", Json::object()), "input_" + row.primary)) {
              row.metric = v;
              break;
            }
      inputs.push_back(std::move(row));
    }
    report.rows.insert(report.rows.begin(), inputs.begin(), inputs.end());
  }

  // Pipeline order: by depth in the artifact graph (manifest parents), then by finishing time; instances
  // that finish in the same second would otherwise come out in id order, an evaluation before its model.
  std::map<std::string, int> depth;
  std::function<int(const std::string&, int)> depth_of = [&](const std::string& id, int guard) -> int {
    if (const auto it = depth.find(id); it != depth.end()) return it->second;
    int d = 0;
    const auto m = manifests.find(id);
    if (m != manifests.end() && guard < 64 && m->second.contains("parents") && m->second["parents"].is_array())
      for (const auto& parent : m->second["parents"]) {
        const std::string pid = text(parent, "id");
        if (manifests.count(pid)) d = std::max(d, 1 + depth_of(pid, guard + 1));
      }
    return depth[id] = d;
  };
  for (const auto& row : report.rows) depth_of(row.id, 0);
  std::stable_sort(report.rows.begin(), report.rows.end(), [&](const ReportRow& a, const ReportRow& b) {
    const int da = a.status == "done" ? depth[a.id] : 1 << 20, db = b.status == "done" ? depth[b.id] : 1 << 20;
    return da != db ? da < db : a.finished < b.finished;
  });

  // An artifact that names no primary metric (from an older finetune, or a third-party plugin) is scored
  // by the one the others use, when its metrics have it.
  const std::string primary = common_primary(report.rows);
  if (!primary.empty())
    for (auto& row : report.rows)
      if (row.primary.empty() && manifests.count(row.id)) {
        const Json metrics = manifests[row.id].value("metrics", Json::object());
        if (const auto v = number(metrics, primary)) {
          row.primary = primary;
          row.metric = v;
        }
      }

  // Δ against the root of each artifact's chain: input_model for models, the (first) parent otherwise.
  // Rows keep their places from here on: pointers into report.rows stay valid.
  std::map<std::string, ReportRow*> by_id;
  for (auto& row : report.rows) by_id[row.id] = &row;
  auto find_row = [&](const std::string& id) -> ReportRow* {
    const auto it = by_id.find(id);
    return it == by_id.end() ? nullptr : it->second;
  };
  auto upstream = [&](const std::string& id) -> std::string {
    const auto it = manifests.find(id);
    if (it == manifests.end()) return "";
    const Json& m = it->second;
    if (m.contains("input_model") && m["input_model"].is_object()) return text(m["input_model"], "id");
    if (m.contains("parents") && m["parents"].is_array() && m["parents"].size() == 1) return text(m["parents"][0], "id");
    return "";
  };
  for (auto& row : report.rows) {
    // The furthest ancestor that has the row's metric (a pretrained model without a task head has none).
    std::string root, next = upstream(row.id);
    for (int hops = 0; !next.empty() && by_id.count(next) && hops < 64; ++hops) {
      const ReportRow& ancestor = *by_id[next];
      if (ancestor.metric && ancestor.primary == row.primary) root = next;
      else if (root.empty() && !row.metric) root = next;
      next = upstream(next);
    }
    if (root.empty() || root == row.id) continue;
    row.baseline = root;
    const ReportRow& b = *by_id[root];
    if (b.metric && row.metric && b.primary == row.primary) {
      row.baseline_metric = b.metric;
      row.delta = *row.metric - *b.metric;
    }
  }

  // Rank nodes: per-candidate latency, interval, SQNR and agreement; the baseline's and fp32 models' latency; the best.
  for (auto& rank_row : report.rows) {
    const auto found = rankings.find(rank_row.id);
    if (found == rankings.end()) continue;
    const Json* rk = &found->second;
    const ReportRow& row = rank_row;
    Json summary = {{"id", row.id},
                    {"ranking", row.path + "/ranking.md"},
                    {"best", rk->value("best", Json())},
                    {"best_meets_max_drop", rk->value("best_meets_max_drop", Json())},
                    {"objective", rk->value("objective", Json())},
                    {"max_metric_drop", rk->value("max_metric_drop", Json())},
                    {"min_logit_sqnr_db", rk->value("min_logit_sqnr_db", Json())},
                    {"choice", rk->value("choice", Json())},
                    {"baseline", rk->value("baseline", Json())},
                    {"primary", rk->value("primary", Json())},
                    {"bench", Json::object()}};
    const Json bench = rk->value("bench", Json::object());
    if (bench.is_object() && !bench.empty())
      summary["bench"] = {{"isa", bench.value("isa", Json())},
                          {"threads", bench.value("threads", Json())},
                          {"batches", bench.value("batches", Json())},
                          {"baseline", bench.contains("baseline") ? text(bench["baseline"], "id") : ""}};
    report.rankings.push_back(summary);

    auto latencies = [](const Json& lat) {
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
    };
    if (ReportRow* best = find_row(text(*rk, "best"))) {
      best->best = true;
      best->best_of = row.id;
    }
    const Json baseline = bench.is_object() && bench.contains("baseline") && bench["baseline"].is_object()
                              ? bench["baseline"]
                              : Json::object();
    const std::string reference_id = text(baseline, "id");
    if (ReportRow* b = find_row(reference_id); b && b->latency.empty()) {
      b->latency = latencies(baseline.value("latency", Json::object()));
      for (auto& [batch, l] : b->latency) l.speedup = 1.0;
    }
    // The interval is rank's, against rank's baseline: it goes with the report's Δ only when both are against
    // the same model.
    const std::string rank_baseline = text(*rk, "baseline");
    auto take_interval = [&](ReportRow& r, const Json& j) {
      if (!j.contains("delta_interval") || !j["delta_interval"].is_array() || j["delta_interval"].size() != 2) return;
      if (rank_baseline.empty() || r.baseline != rank_baseline) return;
      if (!j["delta_interval"][0].is_number() || !j["delta_interval"][1].is_number()) return;
      r.delta_low = j["delta_interval"][0].get<double>();
      r.delta_high = j["delta_interval"][1].get<double>();
    };
    for (const auto& m : rk->value("models", Json::array())) {
      if (!m.is_object()) continue;
      ReportRow* r = find_row(text(m, "id"));
      if (!r) continue;
      if (r->latency.empty()) {
        r->latency = latencies(m.value("latency", Json::object()));
        r->latency_noisy = m.value("latency_noisy", false);
      }
      take_interval(*r, m);
    }
    const ReportRow* best_row = nullptr;
    for (const auto& c : rk->value("candidates", Json::array())) {
      if (!c.is_object()) continue;
      ReportRow* r = find_row(text(c, "id"));
      if (!r) continue;
      if (text(c, "id") == text(*rk, "best")) best_row = r;
      if (r->latency.empty()) {
        r->latency = latencies(c.value("latency", Json::object()));
        r->latency_noisy = c.value("latency_noisy", false);
      }
      take_interval(*r, c);
      if (const auto v = number(c, "logit_sqnr_db")) r->logit_sqnr_db = v;
      if (const auto v = number(c, "agreement")) r->agreement = v;
      // A candidate whose chain leaves the run (its input is the pipeline's [model], e.g. `slimpipe compress
      // --strategy ptq`): Δ as rank computed it, against its reference (the unpruned fp32 model).
      if (!r->delta && number(c, "reference") && number(c, "delta")) {
        r->baseline = reference_id.empty() ? "rank reference" : reference_id;
        r->baseline_metric = number(c, "reference");
        r->delta = number(c, "delta");
        take_interval(*r, c);
      }
    }
    // The rank node's own artifact is the best candidate, or what the fallback made of it (rank evaluated that too).
    const Json fallback = rk->value("fallback", Json());
    if (fallback.is_object() && fallback.contains("evaluation") && fallback["evaluation"].is_object()) {
      const Json& e = fallback["evaluation"];
      take_interval(rank_row, e);
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
  for (std::size_t i = 0; i < report.rows.size(); ++i) {
    const ReportRow& row = report.rows[i];
    if (!row.best || row.path.empty() || row.kind.find("quantized") == std::string::npos) continue;
    std::ifstream in(run_dir / row.path / "sensitivity.csv");
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
    if (!sens.sites.empty()) report.sensitivities.push_back(std::move(sens));
  }
  return report;
}

Json RunReport::to_json() const {
  Json rows_json = Json::array();
  auto opt_json = [](const auto& v) { return v ? Json(*v) : Json(); };
  for (const auto& r : rows) {
    Json lat = Json::object();
    for (const auto& [b, l] : r.latency)
      lat["batch_" + std::to_string(b)] = {{"p50_ms", l.p50_ms}, {"p90_ms", l.p90_ms}, {"speedup", opt_json(l.speedup)}};
    rows_json.push_back({{"id", r.id},
                         {"instance", r.instance},
                         {"node", r.node},
                         {"plugin", r.plugin},
                         {"kind", r.kind},
                         {"status", r.status},
                         {"path", r.path},
                         {"error", r.error},
                         {"primary_metric", r.primary},
                         {"metric", opt_json(r.metric)},
                         {"baseline", r.baseline},
                         {"baseline_metric", opt_json(r.baseline_metric)},
                         {"delta", opt_json(r.delta)},
                         {"delta_low", opt_json(r.delta_low)},
                         {"delta_high", opt_json(r.delta_high)},
                         {"logit_sqnr_db", opt_json(r.logit_sqnr_db)},
                         {"agreement", opt_json(r.agreement)},
                         {"latency_noisy", r.latency_noisy},
                         {"param_count", opt_json(r.param_count)},
                         {"model_bytes", opt_json(r.model_bytes)},
                         {"width", opt_json(r.width)},
                         {"cell", r.cell},
                         {"latency", lat},
                         {"best", r.best},
                         {"best_of", r.best_of},
                         {"seconds", r.seconds},
                         {"finished", r.finished}});
  }
  return {{"pipeline", pipeline},   {"run_dir", run_dir.string()}, {"generated", generated},
          {"host", {{"isa", host_isa}, {"slimpipe", version}}},   {"rows", rows_json},
          {"rankings", rankings}};
}

std::string RunReport::csv() const {
  const std::vector<std::int64_t> batches = latency_batches();
  std::ostringstream s;
  s << "id,instance,node,plugin,kind,status,primary_metric,metric,baseline,baseline_metric,delta,delta_low,delta_high,"
       "logit_sqnr_db,agreement,param_count,model_bytes,width,cell";
  for (const std::int64_t b : batches) s << ",p50_ms_b" << b << ",p90_ms_b" << b << ",speedup_b" << b;
  s << ",latency_noisy,best,seconds,path,error\n";
  auto num = [](const std::optional<double>& v) {
    if (!v) return std::string();
    std::ostringstream o;
    o << std::setprecision(10) << *v;
    return o.str();
  };
  for (const auto& r : rows) {
    s << csv_field(r.id) << ',' << csv_field(r.instance) << ',' << csv_field(r.node) << ',' << csv_field(r.plugin) << ','
      << csv_field(r.kind) << ',' << r.status << ',' << csv_field(r.primary) << ',' << num(r.metric) << ','
      << csv_field(r.baseline) << ',' << num(r.baseline_metric) << ',' << num(r.delta) << ',' << num(r.delta_low) << ','
      << num(r.delta_high) << ',' << num(r.logit_sqnr_db) << ',' << num(r.agreement) << ','
      << (r.param_count ? std::to_string(*r.param_count) : "") << ','
      << (r.model_bytes ? std::to_string(*r.model_bytes) : "") << ',' << num(r.width) << ',' << csv_field(r.cell);
    for (const std::int64_t b : batches) {
      const auto it = r.latency.find(b);
      if (it == r.latency.end()) {
        s << ",,,";
        continue;
      }
      s << ',' << num(it->second.p50_ms) << ',' << num(it->second.p90_ms) << ',' << num(it->second.speedup);
    }
    s << ',' << (r.latency_noisy ? "true" : "false") << ',' << (r.best ? "true" : "false") << ',' << num(r.seconds) << ',' << csv_field(r.path) << ','
      << csv_field(r.error) << '\n';
  }
  return s.str();
}

std::string RunReport::markdown() const {
  const std::vector<std::int64_t> batches = latency_batches();
  const std::string primary = common_primary(rows);
  std::ostringstream s;
  s << "# Run report: " << pipeline << "\n\n"
    << "Run folder `" << run_dir.string() << "`, " << summary_line(*this) << ". Generated " << generated
    << " by slimpipe " << version << " on a host whose runtime ISA is " << host_isa << ".\n";
  auto table = [&](const std::vector<const ReportRow*>& sel, bool models) {
    const auto cols = columns(sel, batches, primary, models);
    s << "\n|";
    for (const auto& c : cols) s << ' ' << md_cell(c.header) << " |";
    s << "\n|";
    for (const auto& c : cols) s << (c.numeric ? "---:|" : "---|");
    for (std::size_t i = 0; i < sel.size(); ++i) {
      s << "\n|";
      for (const auto& c : cols) {
        const std::string cell = md_cell(c.cells[i]);
        s << ' ' << (sel[i]->best && !cell.empty() ? "**" + cell + "**" : cell) << " |";
      }
    }
    s << "\n";
  };
  const auto models = select(rows, true), others = select(rows, false);
  if (!models.empty()) {
    s << "\n## Models\n\n" << kModelsLegend << " The best candidate is in bold.\n";
    table(models, true);
  }
  if (!others.empty()) {
    s << "\n## Other artifacts\n";
    table(others, false);
  }
  std::vector<const ReportRow*> problems;
  for (const auto& r : rows)
    if (r.status != "done" || !r.error.empty()) problems.push_back(&r);
  if (!problems.empty()) {
    s << "\n## Failed instances and unreadable artifacts\n\n| instance | status | error |\n|---|---|---|\n";
    for (const ReportRow* r : problems)
      s << "| " << md_cell(r->id) << " | " << r->status << " | " << md_cell(r->error) << " |\n";
  }
  for (const auto& rk : rankings)
    s << "\n## " << text(rk, "id") << "\n\n" << ranking_sentence(rk) << " Every candidate: `" << text(rk, "ranking")
      << "`.\n";
  return s.str();
}

namespace {

// A short label for a row in a table or beside a marker: a PTQ cell's name and width, a width, or the id's
// last part; the full id goes in a title.
std::string short_label(const ReportRow& r) {
  const bool pruned = r.width && *r.width < 0.999;
  if (!r.cell.empty()) return r.cell + (pruned ? " w" + fixed(*r.width, 2) : "");
  if (pruned) return "width " + fixed(*r.width, 2);
  const auto slash = r.id.find_last_of('/');
  std::string last = slash == std::string::npos ? r.id : r.id.substr(slash + 1);
  return last.size() > 28 ? last.substr(0, 27) + "…" : last;
}

std::string short_kind(const std::string& kind) {
  if (kind.find("quantized") != std::string::npos) return "INT8";
  if (kind.find("model") != std::string::npos) return "fp32";
  return kind;
}

plots::Family family_of(const ReportRow& r) {
  const bool int8 = r.kind.find("quantized") != std::string::npos;
  const bool pruned = r.width && *r.width < 0.999;
  return int8 ? (pruned ? plots::Family::PrunedInt8 : plots::Family::Int8) : (pruned ? plots::Family::Pruned : plots::Family::Fp32);
}

const char* const kHtmlStyle =
    "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;background:#fff;max-width:1240px}"
    "a{color:#1a5fb4}table{border-collapse:collapse;margin:1em 0;font-size:13px}"
    "th,td{border:1px solid #ccc;padding:3px 6px;white-space:nowrap}th{background:#f0f0f0}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}.wide{overflow-x:auto}"
    "tr.best{background:#e6f4e6;font-weight:bold}tr.failed{background:#fbe9e9}code{background:#f5f5f5}"
    ".charts{display:flex;flex-wrap:wrap;gap:12px}.chart{max-width:100%;height:auto}"
    ".chart text{font-size:11px;fill:#333}.chart .chart-title{font-size:13px;font-weight:600}"
    ".plot-area{fill:none;stroke:#999}.grid{stroke:#e4e4e4}.front{fill:none;stroke:#888;stroke-dasharray:4 3}"
    ".series{fill:none;stroke:#1a5fb4;stroke-width:1.5}.legend text{font-size:11px;fill:#333}"
    ".mark{stroke:#fff;stroke-width:1}.mark.fp32{fill:#1a5fb4}.mark.pruned{fill:#2f9e44}.mark.int8{fill:#e8590c}"
    ".mark.pruned-int8{fill:#ae3ec9}.mark.chosen{stroke:#111;stroke-width:2.5}.mark.baseline{stroke:#111;stroke-width:1.5}"
    ".mark-label{font-weight:600}.bar rect{fill:#e8590c}"
    "@media (prefers-color-scheme:dark){body{background:#161616;color:#ddd}a{color:#8ab4f8}th{background:#2a2a2a}"
    "th,td{border-color:#444}tr.best{background:#1e3a1e}tr.failed{background:#3a1e1e}code{background:#2a2a2a}"
    ".chart text,.legend text{fill:#ddd}.grid{stroke:#333}.mark{stroke:#161616}.mark.chosen,.mark.baseline{stroke:#fff}}"
    "@media print{body{margin:0;max-width:none}.wide{overflow:visible}a{color:inherit;text-decoration:none}"
    ".charts{display:block}.chart{page-break-inside:avoid}}";

}  // namespace

std::string RunReport::html() const {
  const std::vector<std::int64_t> batches = latency_batches();
  const std::string primary = common_primary(rows);
  std::ostringstream s;
  s << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>slimpipe run report: "
    << html_escape(pipeline) << "</title>\n<style>" << kHtmlStyle << "</style></head><body>\n<h1>Run report: "
    << html_escape(pipeline) << "</h1>\n<p>Run folder <code>" << html_escape(run_dir.string()) << "</code>, "
    << html_escape(summary_line(*this)) << ". Generated " << html_escape(generated) << " by slimpipe "
    << html_escape(version) << " on a host whose runtime ISA is " << html_escape(host_isa) << ".</p>\n";

  // The trade-off: every model (not a rank node's copy of its best) with a metric, against latency per batch
  // size and against size.
  std::set<std::string> baselines;
  for (const auto& r : rows)
    if (!r.baseline.empty()) baselines.insert(r.baseline);
  auto points = [&](const std::function<std::optional<double>(const ReportRow&)>& x) {
    std::vector<plots::Point> pts;
    for (const auto& r : rows) {
      if (!is_model(r) || r.plugin == "rank" || !r.metric || r.status != "done") continue;
      const auto xv = x(r);
      if (!xv) continue;
      pts.push_back({*xv, *r.metric, r.id, short_label(r), family_of(r), r.best, baselines.count(r.id) > 0});
    }
    return pts;
  };
  const std::string metric_name = primary.empty() ? "metric" : primary;
  std::vector<std::string> charts;
  for (const std::int64_t b : batches) {
    auto pts = points([b](const ReportRow& r) -> std::optional<double> {
      const auto it = r.latency.find(b);
      if (it == r.latency.end() || it->second.p50_ms <= 0) return std::nullopt;
      return it->second.p50_ms;
    });
    if (pts.size() >= 2)
      charts.push_back(plots::scatter(metric_name + " vs latency, batch " + std::to_string(b),
                                      "p50 latency (ms), batch " + std::to_string(b), metric_name, pts));
  }
  {
    auto pts = points([](const ReportRow& r) -> std::optional<double> {
      if (!r.model_bytes) return std::nullopt;
      return static_cast<double>(*r.model_bytes) / 1e6;
    });
    if (pts.size() >= 2) charts.push_back(plots::scatter(metric_name + " vs size", "model size (MB)", metric_name, pts));
  }
  // DynaBERT: the metric against width, the unpruned model at 1.0.
  {
    std::vector<plots::Point> widths;
    for (const auto& r : rows)
      if (is_model(r) && r.plugin == "dynabert" && r.metric && r.width) {
        widths.push_back({*r.width, *r.metric, r.id, short_label(r), plots::Family::Pruned, false, false});
        for (const auto& base : rows)
          if (base.id == r.baseline && base.metric &&
              std::none_of(widths.begin(), widths.end(), [&](const plots::Point& p) { return p.id == base.id; }))
            widths.push_back({1.0, *base.metric, base.id, short_label(base), plots::Family::Fp32, false, true});
      }
    if (widths.size() >= 2) charts.push_back(plots::line(metric_name + " vs DynaBERT width", "width", metric_name, widths));
  }
  for (const auto& sens : sensitivities) {
    std::vector<std::pair<std::string, double>> bars(sens.sites.begin(),
                                                     sens.sites.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(16, sens.sites.size())));
    charts.push_back(plots::bars("Site sensitivity of the chosen model, " + short_label(rows[sens.row]),
                                 "output SQNR (dB) with only this site quantized", bars));
  }
  if (!charts.empty()) {
    s << "<h2>Trade-off</h2>\n<p>Each marker is a model; hover for its id and figures. The chosen model and the baseline "
         "are outlined and labelled; the dashed line is the Pareto front (no model is both better and faster or smaller).</p>\n"
      << plots::legend() << "\n<div class=\"charts\">\n";
    for (const auto& c : charts) s << c << "\n";
    s << "</div>\n";
  }

  auto link = [&](const ReportRow& r, const std::string& label) {
    const std::string shown = html_escape(label) + (r.best ? " ★" : "");
    if (r.path.empty() || r.path.front() == '/') return "<span title=\"" + html_escape(r.id) + "\">" + shown + "</span>";
    return "<a href=\"" + html_escape(r.path) + "/\" title=\"" + html_escape(r.id) + (r.best ? " (best of " + html_escape(r.best_of) + ")" : "") +
           "\">" + shown + "</a>";
  };
  auto table = [&](const std::vector<const ReportRow*>& sel, bool models) {
    // The short label already says the cell and width; the full figures are in report.md and summary.csv.
    std::vector<Column> cols;
    for (auto& c : columns(sel, batches, primary, models))
      if (!models || (c.header != "cell" && c.header != "width" && c.header != "params M" && c.header != "s"))
        cols.push_back(std::move(c));
    s << "<div class=\"wide\"><table><tr>";
    for (const auto& c : cols) s << "<th>" << html_escape(c.header) << "</th>";
    s << "</tr>\n";
    for (std::size_t i = 0; i < sel.size(); ++i) {
      s << (sel[i]->best ? "<tr class=\"best\">" : "<tr>");
      for (const auto& c : cols) {
        s << (c.numeric ? "<td class=\"n\">" : "<td>");
        if (c.header == "artifact")
          s << link(*sel[i], models ? short_label(*sel[i]) : sel[i]->id);
        else if (c.header == "kind")
          s << "<span title=\"" << html_escape(sel[i]->kind) << "\">" << html_escape(short_kind(sel[i]->kind)) << "</span>";
        else
          s << html_escape(c.cells[i]);
        s << "</td>";
      }
      s << "</tr>\n";
    }
    s << "</table></div>\n";
  };
  const auto models = select(rows, true), others = select(rows, false);
  if (!models.empty()) {
    s << "<h2>Models</h2>\n<p>" << html_escape(kModelsLegend)
      << " The best candidate is highlighted (★); each name links to its folder and shows its full id on hover.</p>\n";
    table(models, true);
  }
  if (!others.empty()) {
    s << "<h2>Other artifacts</h2>\n";
    table(others, false);
  }
  bool any_problem = false;
  for (const auto& r : rows) any_problem = any_problem || r.status != "done" || !r.error.empty();
  if (any_problem) {
    s << "<h2>Failed instances and unreadable artifacts</h2>\n<table><tr><th>instance</th><th>status</th><th>error</th></tr>\n";
    for (const auto& r : rows)
      if (r.status != "done" || !r.error.empty())
        s << "<tr class=\"failed\"><td>" << html_escape(r.id) << "</td><td>" << html_escape(r.status) << "</td><td>"
          << html_escape(r.error) << "</td></tr>\n";
    s << "</table>\n";
  }
  for (const auto& rk : rankings)
    s << "<h2>" << html_escape(text(rk, "id")) << "</h2>\n<p>" << html_escape(ranking_sentence(rk))
      << " Every candidate: <a href=\"" << html_escape(text(rk, "ranking")) << "\">" << html_escape(text(rk, "ranking"))
      << "</a>.</p>\n";
  s << "</body></html>\n";
  return s.str();
}

std::vector<fs::path> write_run_report(const RunReport& report, const fs::path& out_dir) {
  fs::create_directories(out_dir);
  const std::vector<std::pair<std::string, std::string>> files = {{"report.md", report.markdown()},
                                                                   {"report.html", report.html()},
                                                                   {"summary.csv", report.csv()},
                                                                   {"summary.json", report.to_json().dump(1) + "\n"}};
  std::vector<fs::path> written;
  for (const auto& [name, content] : files) {
    write_file(out_dir / name, content);
    written.push_back(out_dir / name);
  }
  return written;
}

}  // namespace slimpipe::core
