// The run-level report (report.hpp) rendered as Markdown, HTML, CSV and JSON; report_build.cpp builds it.
#include "slimpipe/core/report.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <set>
#include <sstream>

#include "report_charts.hpp"
#include "report_plots.hpp"
#include "report_util.hpp"
#include "slimpipe/core/artifact_store.hpp"
#include "slimpipe/core/lockfile.hpp"
#include "slimpipe/error.hpp"
#include "slimpipe/version.hpp"

namespace slimpipe::core {

namespace {

using report_charts::short_label;
using report_util::common_primary;
using report_util::fixed;
using report_util::integer;
using report_util::is_model;
using report_util::number;
using report_util::signed_fixed;
using report_util::text;

std::string megabytes(const std::optional<std::int64_t>& b) {
  return b ? fixed(static_cast<double>(*b) / 1e6, *b < 10'000'000 ? 3 : 1) : "";
}

std::string millions(const std::optional<std::int64_t>& n) {
  return n ? fixed(static_cast<double>(*n) / 1e6, *n < 10'000'000 ? 3 : 1) : "";
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
    add("variant", false, [](const ReportRow& r) { return r.label; });
  }
  add(primary.empty() ? "metric" : primary, true, [&](const ReportRow& r) -> std::string {
    if (!r.metric) return "";
    return primary.empty() ? r.primary + " " + fixed(*r.metric, 2) : fixed(*r.metric, 2);
  });
  add("baseline", false, [](const ReportRow& r) { return r.baseline; });
  add("Δ", true, [](const ReportRow& r) { return r.delta ? signed_fixed(*r.delta, 2) : ""; });
  add("Δ CI", true, [](const ReportRow& r) {
    return r.delta_low && r.delta_high
               ? "[" + signed_fixed(*r.delta_low, 2) + ", " + signed_fixed(*r.delta_high, 2) + "]"
               : std::string();
  });
  if (models) {
    add("SQNR dB", true, [](const ReportRow& r) {
      if (!r.logit_sqnr_db) return std::string();
      return *r.logit_sqnr_db >= 999.0 ? std::string("∞")
                                       : fixed(*r.logit_sqnr_db, 1);  // rank's 999: identical outputs
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
    if (c == '|')
      out += "\\|";
    else if (c == '\n')
      out += ' ';
    else
      out += c;
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
  return std::to_string(instances.size()) + " instances: " + std::to_string(done) + " done, " + std::to_string(failed) +
         " failed";
}

const char* const kModelsLegend =
    "Δ: metric minus the baseline's, the model at the root of the artifact's input chain (the pipeline's input "
    "model when it has one). Δ CI: the paired-bootstrap interval of Δ on the same eval examples, where a rank node "
    "evaluated the model against that baseline. SQNR dB and agree %: the output logits' SQNR and the share of "
    "examples predicted alike, against the fp32 model the row was made from. Model MB: the INT8 weights of a "
    "quantized model, model.safetensors otherwise. Latency and speedup: where a rank node timed the model with "
    "slimpipe_runtime; p90/p50 is its spread (noisy: still above rank's bench_max_spread after re-measuring).";

// Every write checked (a full disk is an Error naming the file, not a short report), then renamed into place.
void write_file(const fs::path& path, const std::string& content) { write_file_durably(path, content); }

}  // namespace

std::vector<std::int64_t> RunReport::latency_batches() const {
  std::set<std::int64_t> b;
  for (const auto& r : rows)
    for (const auto& [batch, l] : r.latency) b.insert(batch);
  return {b.begin(), b.end()};
}

Json RunReport::to_json() const {
  Json rows_json = Json::array();
  auto opt_json = [](const auto& v) { return v ? Json(*v) : Json(); };
  for (const auto& r : rows) {
    Json lat = Json::object();
    for (const auto& [b, l] : r.latency)
      lat["batch_" + std::to_string(b)] = {
          {"p50_ms", l.p50_ms}, {"p90_ms", l.p90_ms}, {"speedup", opt_json(l.speedup)}};
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
                         {"label", r.label},
                         {"latency", lat},
                         {"best", r.best},
                         {"best_of", r.best_of},
                         {"seconds", r.seconds},
                         {"finished", r.finished}});
  }
  return {{"pipeline", pipeline},   {"run_dir", run_dir.string()},
          {"generated", generated}, {"host", {{"isa", host_isa}, {"slimpipe", version}}},
          {"rows", rows_json},      {"assessments", assessments}};
}

std::string RunReport::csv() const {
  const std::vector<std::int64_t> batches = latency_batches();
  std::ostringstream s;
  s << "id,instance,node,plugin,kind,status,primary_metric,metric,baseline,baseline_metric,delta,delta_low,delta_high,"
       "logit_sqnr_db,agreement,param_count,model_bytes,width,label";
  for (const std::int64_t b : batches) s << ",p50_ms_b" << b << ",p90_ms_b" << b << ",speedup_b" << b;
  s << ",latency_noisy,best,seconds,path,error\n";
  auto num = [](const std::optional<double>& v) {
    if (!v) return std::string();
    std::ostringstream o;
    o << std::setprecision(10) << *v;
    return o.str();
  };
  for (const auto& r : rows) {
    s << csv_field(r.id) << ',' << csv_field(r.instance) << ',' << csv_field(r.node) << ',' << csv_field(r.plugin)
      << ',' << csv_field(r.kind) << ',' << r.status << ',' << csv_field(r.primary) << ',' << num(r.metric) << ','
      << csv_field(r.baseline) << ',' << num(r.baseline_metric) << ',' << num(r.delta) << ',' << num(r.delta_low) << ','
      << num(r.delta_high) << ',' << num(r.logit_sqnr_db) << ',' << num(r.agreement) << ','
      << (r.param_count ? std::to_string(*r.param_count) : "") << ','
      << (r.model_bytes ? std::to_string(*r.model_bytes) : "") << ',' << num(r.width) << ',' << csv_field(r.label);
    for (const std::int64_t b : batches) {
      const auto it = r.latency.find(b);
      if (it == r.latency.end()) {
        s << ",,,";
        continue;
      }
      s << ',' << num(it->second.p50_ms) << ',' << num(it->second.p90_ms) << ',' << num(it->second.speedup);
    }
    s << ',' << (r.latency_noisy ? "true" : "false") << ',' << (r.best ? "true" : "false") << ',' << num(r.seconds)
      << ',' << csv_field(r.path) << ',' << csv_field(r.error) << '\n';
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
  for (const auto& a : assessments) {
    s << "\n## " << text(a, "id") << "\n\n" << text(a, "section");
    if (const std::string details = text(a, "details"); !details.empty()) s << " Every figure: `" << details << "`.";
    s << "\n";
  }
  return s.str();
}

namespace {

std::string short_kind(const std::string& kind) {
  if (kind.find("quantized") != std::string::npos) return "INT8";
  if (kind.find("model") != std::string::npos) return "fp32";
  return kind;
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
    ".mark.pruned-int8{fill:#ae3ec9}.mark.chosen{stroke:#111;stroke-width:2.5}.mark.baseline{stroke:#111;stroke-width:"
    "1.5}"
    ".mark-label{font-weight:600}.bar rect{fill:#e8590c}"
    "@media (prefers-color-scheme:dark){body{background:#161616;color:#ddd}a{color:#8ab4f8}th{background:#2a2a2a}"
    "th,td{border-color:#444}tr.best{background:#1e3a1e}tr.failed{background:#3a1e1e}code{background:#2a2a2a}"
    ".chart text,.legend "
    "text{fill:#ddd}.grid{stroke:#333}.mark{stroke:#161616}.mark.chosen,.mark.baseline{stroke:#fff}}"
    "@media print{body{margin:0;max-width:none}.wide{overflow:visible}a{color:inherit;text-decoration:none}"
    ".charts{display:block}.chart{page-break-inside:avoid}}";

// A row's name in a table: a link to its folder (plain text when it has none inside the run folder), its full id
// on hover.
std::string html_link(const ReportRow& r, const std::string& label) {
  const std::string shown = html_escape(label) + (r.best ? " ★" : "");
  if (r.path.empty() || r.path.front() == '/') return "<span title=\"" + html_escape(r.id) + "\">" + shown + "</span>";
  return "<a href=\"" + html_escape(r.path) + "/\" title=\"" + html_escape(r.id) +
         (r.best ? " (best of " + html_escape(r.best_of) + ")" : "") + "\">" + shown + "</a>";
}

void html_table(std::ostream& s, const std::vector<const ReportRow*>& sel, bool models,
                const std::vector<std::int64_t>& batches, const std::string& primary) {
  // The short label already says the variant and width; the full figures are in report.md and summary.csv.
  std::vector<Column> cols;
  for (auto& c : columns(sel, batches, primary, models))
    if (!models || (c.header != "variant" && c.header != "width" && c.header != "params M" && c.header != "s"))
      cols.push_back(std::move(c));
  s << "<div class=\"wide\"><table><tr>";
  for (const auto& c : cols) s << "<th>" << html_escape(c.header) << "</th>";
  s << "</tr>\n";
  for (std::size_t i = 0; i < sel.size(); ++i) {
    s << (sel[i]->best ? "<tr class=\"best\">" : "<tr>");
    for (const auto& c : cols) {
      s << (c.numeric ? "<td class=\"n\">" : "<td>");
      if (c.header == "artifact")
        s << html_link(*sel[i], models ? short_label(*sel[i]) : sel[i]->id);
      else if (c.header == "kind")
        s << "<span title=\"" << html_escape(sel[i]->kind) << "\">" << html_escape(short_kind(sel[i]->kind))
          << "</span>";
      else
        s << html_escape(c.cells[i]);
      s << "</td>";
    }
    s << "</tr>\n";
  }
  s << "</table></div>\n";
}

// Failed instances and unreadable artifacts, when there are any.
void html_problems(std::ostream& s, const std::vector<ReportRow>& rows) {
  bool any_problem = false;
  for (const auto& r : rows) any_problem = any_problem || r.status != "done" || !r.error.empty();
  if (!any_problem) return;
  s << "<h2>Failed instances and unreadable "
       "artifacts</h2>\n<table><tr><th>instance</th><th>status</th><th>error</th></tr>\n";
  for (const auto& r : rows)
    if (r.status != "done" || !r.error.empty())
      s << "<tr class=\"failed\"><td>" << html_escape(r.id) << "</td><td>" << html_escape(r.status) << "</td><td>"
        << html_escape(r.error) << "</td></tr>\n";
  s << "</table>\n";
}

}  // namespace

std::string RunReport::html() const {
  const std::vector<std::int64_t> batches = latency_batches();
  const std::string primary = common_primary(rows);
  std::ostringstream s;
  s << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>slimpipe run report: "
    << html_escape(pipeline) << "</title>\n<style>" << kHtmlStyle
    << "</style></head><body>\n<h1>Run report: " << html_escape(pipeline) << "</h1>\n<p>Run folder <code>"
    << html_escape(run_dir.string()) << "</code>, " << html_escape(summary_line(*this)) << ". Generated "
    << html_escape(generated) << " by slimpipe " << html_escape(version) << " on a host whose runtime ISA is "
    << html_escape(host_isa) << ".</p>\n";

  // The trade-off: every model (not an assessing node's copy of its best) with a metric, against latency per batch
  // size and against size.
  const std::vector<std::string> charts = report_charts::trade_off_charts(*this, batches, primary);
  if (!charts.empty()) {
    s << "<h2>Trade-off</h2>\n<p>Each marker is a model; hover for its id and figures. The chosen model and the "
         "baseline "
         "are outlined and labelled; the dashed line is the Pareto front (no model is both better and faster or "
         "smaller).</p>\n"
      << plots::legend() << "\n<div class=\"charts\">\n";
    for (const auto& c : charts) s << c << "\n";
    s << "</div>\n";
  }

  const auto models = select(rows, true), others = select(rows, false);
  if (!models.empty()) {
    s << "<h2>Models</h2>\n<p>" << html_escape(kModelsLegend)
      << " The best candidate is highlighted (★); each name links to its folder and shows its full id on hover.</p>\n";
    html_table(s, models, true, batches, primary);
  }
  if (!others.empty()) {
    s << "<h2>Other artifacts</h2>\n";
    html_table(s, others, false, batches, primary);
  }
  html_problems(s, rows);
  for (const auto& a : assessments) {
    s << "<h2>" << html_escape(text(a, "id")) << "</h2>\n<p>" << html_escape(text(a, "section"));
    if (const std::string details = text(a, "details"); !details.empty())
      s << " Every figure: <a href=\"" << html_escape(details) << "\">" << html_escape(details) << "</a>.";
    s << "</p>\n";
  }
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
