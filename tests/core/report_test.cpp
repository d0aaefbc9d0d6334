// The run report (core/report.hpp) on a hand-made run folder: a lock with a fine-tuned model and its evaluation (both
// with manifests from before the "model" block), a pruned width, two PTQ cells, a rank node with an "assessment"
// block, two artifacts whose manifests are unusable (not JSON; JSON but not an object), one whose model block is
// malformed, and a failed cell. Checks the rows, Δ against the root of each chain, the latencies and best taken from
// the assessment, and that the CSV, HTML and Markdown keep awkward text intact. Also through the CLI (`slimpipe
// report`), and for an interrupted run that left only the journal.
#include "slimpipe/core/report.hpp"

#include <gtest/gtest.h>

#include "core/test_util.hpp"
#include "slimpipe/error.hpp"
#include "slimpipe/model_manifest.hpp"

namespace {

using slimpipe::AssessedModel;
using slimpipe::Assessment;
using slimpipe::Json;
using slimpipe::ModelManifest;
using slimpipe::core::ReportRow;
using testutil::fs::path;

const char* kKL = "quant@prune=width_0.5,algo=KL";
const char* kMse = "quant@prune=width_0.5,algo=mse";
const char* kHist = "quant@prune=width_0.5,algo=hist";

Json lock_entry(const std::string& id, const std::string& plugin, const std::string& finished, const Json& outputs,
                const std::string& status = "done", const std::string& error = "") {
  return {{"id", id},
          {"hash", "h-" + id},
          {"status", status},
          {"plugin", {{"name", plugin}}},
          {"params", Json::object()},
          {"inputs", Json::array()},
          {"task", ""},
          {"outputs", outputs},
          {"error", error},
          {"seconds", 1.5},
          {"finished", finished}};
}

Json out(const std::string& p) { return {{"", {{"path", p}, {"hash", "x"}}}}; }

void manifest(const path& run, const std::string& dir, Json m) {
  testutil::write_file(run / dir / "manifest.json", m.dump(1));
}

std::map<std::int64_t, slimpipe::Latency> latency(
    std::initializer_list<std::tuple<std::int64_t, double, double, double>> l) {
  std::map<std::int64_t, slimpipe::Latency> out;
  for (const auto& [batch, p50, p90, speedup] : l) out[batch] = {p50, p90, speedup};
  return out;
}

ModelManifest model_block(const std::string& kind, const std::string& input, std::optional<double> width,
                          const std::string& label = "") {
  ModelManifest m;
  m.kind = kind;
  m.primary_metric = "accuracy";
  if (!input.empty()) m.input_model = slimpipe::ModelRef{input, ""};
  m.width = width;
  m.label = label;
  return m;
}

// The rank node's assessment: the fp32 baseline (train) and both cells timed, KL chosen.
Assessment rank_assessment() {
  Assessment a;
  a.baseline = "train";
  a.best = kKL;
  a.section = "Best: KL (objective metric).";
  a.details = "ranking.md";
  a.summary = {{"objective", "metric"}, {"bench", {{"isa", "avx2"}, {"threads", 2}, {"batches", {1, 32}}}}};
  AssessedModel base;
  base.id = "train";
  base.role = "baseline";
  base.latency = latency({{1, 3.0, 3.3, 1.0}, {32, 60.0, 61.0, 1.0}});
  AssessedModel kl;
  kl.id = kKL;
  kl.role = "candidate";
  kl.latency = latency({{1, 1.0, 1.1, 3.0}, {32, 20.0, 21.0, 3.0}});
  AssessedModel mse;
  mse.id = kMse;
  mse.role = "candidate";
  mse.latency = latency({{1, 1.5, 1.6, 2.0}, {32, 24.0, 25.0, 2.5}});
  a.models = {base, kl, mse};
  return a;
}

Json read_manifest(const path& run, const std::string& dir) {
  return Json::parse(testutil::read_file(run / dir / "manifest.json"));
}

// The folder; `journal_only`: the entries are in pipeline.lock.journal, as a killed run leaves them.
path make_run(const std::string& tag, bool journal_only = false) {
  const path run = testutil::temp_dir(tag);
  // Same finishing second for several instances: the report orders them by the artifact graph.
  const std::vector<Json> entries = {
      lock_entry("evaluate", "evaluate", "2026-11-27T10:00:05Z", out("evaluate")),
      lock_entry("train", "finetune", "2026-11-27T10:00:05Z", out("train")),
      lock_entry("prune", "dynabert", "2026-11-27T10:00:09Z",
                 {{"width_0.5", {{"path", "prune/width_0.5"}, {"hash", "y"}}}}),
      lock_entry(kKL, "ptq", "2026-11-27T10:00:12Z", out("quant/prune=width_0.5,algo=KL")),
      lock_entry(kMse, "ptq", "2026-11-27T10:00:11Z", out("quant/prune=width_0.5,algo=mse")),
      lock_entry(kHist, "ptq", "2026-11-27T10:00:11Z", Json::object(), "failed",
                 "ptq: calibration of <encoder.layer.0> & \"attention\" failed"),
      lock_entry("broken", "finetune", "2026-11-27T10:00:06Z", out("broken")),
      lock_entry("odd", "third_party", "2026-11-27T10:00:07Z", out("odd")),
      lock_entry("future", "third_party", "2026-11-27T10:00:08Z", out("future")),
      lock_entry("rank", "rank", "2026-11-27T10:00:14Z", out("rank")),
  };
  if (journal_only) {
    std::string lines;
    for (const auto& e : entries) lines += e.dump() + "\n";
    testutil::write_file(run / "pipeline.lock.journal", lines);
  } else {
    testutil::write_file(run / "pipeline.lock",
                         Json{{"version", 1}, {"pipeline", "demo-lock"}, {"instances", entries}}.dump(1));
  }
  manifest(run, "train",
           {{"id", "train"},
            {"kind", "model"},
            {"primary_metric", "accuracy"},
            {"metrics", {{"accuracy", 80.0}}},
            {"param_count", 1200000},
            {"files", {{{"path", "model.safetensors"}, {"size", 4800000}}}}});
  manifest(run, "evaluate",
           {{"id", "evaluate"},
            {"kind", "evaluation"},
            {"primary_metric", "accuracy"},
            {"metrics", {{"accuracy", 80.0}}},
            {"parents", {{{"id", "train"}}}}});
  ModelManifest width = model_block("model", "train", 0.5);
  width.param_count = 700000;
  manifest(run, "prune/width_0.5",
           {{"id", "prune/width_0.5"},
            {"kind", "model"},
            {"model", width.to_json()},
            {"metrics", {{"accuracy", 79.5}}},
            {"parents", {{{"id", "train"}}}}});
  for (const auto& [id, dir, acc] : std::vector<std::tuple<std::string, std::string, double>>{
           {kKL, "quant/prune=width_0.5,algo=KL", 79.0}, {kMse, "quant/prune=width_0.5,algo=mse", 78.25}}) {
    ModelManifest cell = model_block("quantized_model", "prune/width_0.5", 0.5, id == kKL ? "KL4_1" : "mse4_1");
    cell.model_bytes = 700000;
    manifest(run, dir,
             {{"id", id},
              {"kind", "quantized_model"},
              {"model", cell.to_json()},
              {"metrics", {{"accuracy", acc}}},
              {"parents", {{{"id", "prune/width_0.5"}}}}});
  }
  testutil::write_file(run / "broken" / "manifest.json", "{\"id\": \"broken\", ");
  testutil::write_file(run / "odd" / "manifest.json", "[1, 2]");
  manifest(run, "future", {{"id", "future"}, {"kind", "model"}, {"model", {{"version", 7}, {"kind", "model"}}}});
  ModelManifest best = model_block("quantized_model", "prune/width_0.5", 0.5, "KL4_1");
  best.model_bytes = 700000;
  best.latency = latency({{1, 1.0, 1.1, 3.0}});
  manifest(run, "rank",
           {{"id", "rank"},
            {"kind", "quantized_model"},
            {"model", best.to_json()},
            {"assessment", rank_assessment().to_json()},
            {"metrics", {{"accuracy", 79.0}}},
            {"parents", {{{"id", kKL}}, {{"id", kMse}}}}});
  return run;
}

const ReportRow& row(const slimpipe::core::RunReport& r, const std::string& id) {
  for (const auto& x : r.rows)
    if (x.id == id) return x;
  throw std::runtime_error("no row " + id);
}

// Splits one CSV record (RFC 4180 quoting, no newlines inside fields).
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> f(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"')
        f.back() += '"', ++i;
      else if (c == '"')
        quoted = false;
      else
        f.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      f.emplace_back();
    } else {
      f.back() += c;
    }
  }
  return f;
}

// Every row's node, baseline, Δ, latencies, best and error, and the assessments.
void check_rows(const slimpipe::core::RunReport& r, const path& run) {
  const ReportRow& train = row(r, "train");
  EXPECT_EQ(train.node, "train");
  EXPECT_EQ(train.plugin, "finetune");
  EXPECT_TRUE(train.baseline.empty());
  EXPECT_FALSE(train.delta.has_value());
  EXPECT_EQ(train.model_bytes.value(), 4800000);
  ASSERT_EQ(train.latency.count(32), 1u);  // the rank's fp32 baseline timing
  EXPECT_DOUBLE_EQ(train.latency.at(32).p50_ms, 60.0);
  EXPECT_DOUBLE_EQ(train.latency.at(32).speedup.value(), 1.0);

  const ReportRow& eval = row(r, "evaluate");
  EXPECT_EQ(eval.baseline, "train");
  EXPECT_DOUBLE_EQ(eval.delta.value(), 0.0);

  const ReportRow& kl = row(r, kKL);
  EXPECT_EQ(kl.node, "quant");
  EXPECT_EQ(kl.baseline, "train");  // through prune/width_0.5
  EXPECT_DOUBLE_EQ(kl.baseline_metric.value(), 80.0);
  EXPECT_DOUBLE_EQ(kl.delta.value(), -1.0);
  EXPECT_TRUE(kl.best);
  EXPECT_EQ(kl.best_of, "rank");
  EXPECT_EQ(kl.label, "KL4_1");
  EXPECT_DOUBLE_EQ(kl.width.value(), 0.5);
  EXPECT_EQ(kl.model_bytes.value(), 700000);
  EXPECT_DOUBLE_EQ(kl.latency.at(1).p50_ms, 1.0);
  EXPECT_DOUBLE_EQ(kl.latency.at(32).speedup.value(), 3.0);
  const ReportRow& mse = row(r, kMse);
  EXPECT_FALSE(mse.best);
  EXPECT_DOUBLE_EQ(mse.delta.value(), -1.75);
  EXPECT_DOUBLE_EQ(mse.latency.at(32).speedup.value(), 2.5);
  EXPECT_TRUE(row(r, "prune/width_0.5").label.empty());
  EXPECT_EQ(row(r, "prune/width_0.5").param_count.value(), 700000);
  EXPECT_DOUBLE_EQ(row(r, "prune/width_0.5").delta.value(), -0.5);
  // rank's own artifact (a copy of the best) keeps the latency its model block records.
  EXPECT_DOUBLE_EQ(row(r, "rank").latency.at(1).speedup.value(), 3.0);
  // A model block from a newer contract: the row says what is wrong, with the file and key.
  EXPECT_EQ(row(r, "future").error, (run / "future" / "manifest.json").string() +
                                        ": model.version: expected version 1 or lower (this slimpipe reads up to 1), "
                                        "got 7; upgrade slimpipe")
      << row(r, "future").error;
  EXPECT_EQ(row(r, "broken").error.rfind("broken/manifest.json is not valid JSON", 0), 0u) << row(r, "broken").error;
  EXPECT_EQ(row(r, "odd").error, "odd/manifest.json is not a JSON object");
  EXPECT_EQ(r.latency_batches(), (std::vector<std::int64_t>{1, 32}));
  ASSERT_EQ(r.assessments.size(), 1u);
  EXPECT_EQ(r.assessments[0]["id"], "rank");
  EXPECT_EQ(r.assessments[0]["best"], kKL);
  EXPECT_EQ(r.assessments[0]["bench"]["isa"], "avx2");
  EXPECT_EQ(r.assessments[0]["details"], "rank/ranking.md");
}

// CSV: one record per row, every record as wide as the header, ids with commas quoted and intact.
void check_csv(const slimpipe::core::RunReport& r) {
  std::istringstream csv(r.csv());
  std::string line;
  std::getline(csv, line);
  const auto header = csv_fields(line);
  EXPECT_EQ(header.front(), "id");
  EXPECT_NE(std::find(header.begin(), header.end(), "speedup_b32"), header.end());
  std::size_t records = 0, best_records = 0;
  while (std::getline(csv, line)) {
    const auto f = csv_fields(line);
    ASSERT_EQ(f.size(), header.size()) << line;
    ++records;
    if (f[0] == kKL) {
      ++best_records;
      EXPECT_EQ(f[std::find(header.begin(), header.end(), "best") - header.begin()], "true");
      EXPECT_EQ(f[std::find(header.begin(), header.end(), "delta") - header.begin()], "-1");
    }
    if (f[0] == kHist) {
      EXPECT_EQ(f.back(), "ptq: calibration of <encoder.layer.0> & \"attention\" failed");
    }
  }
  EXPECT_EQ(records, 10u);
  EXPECT_EQ(best_records, 1u);
}

// HTML escapes awkward text and marks the best in tables and charts; Markdown has the same rows and paragraphs.
void check_html_and_markdown(const slimpipe::core::RunReport& r) {
  const std::string html = r.html();
  EXPECT_NE(html.find("&lt;encoder.layer.0&gt; &amp; &quot;attention&quot;"), std::string::npos);
  EXPECT_EQ(html.find("<encoder.layer.0>"), std::string::npos);
  // Tables: a short label (the cell, the width) linking to the folder, the full id on hover.
  EXPECT_NE(html.find("<tr class=\"best\"><td><a href=\"quant/prune=width_0.5,algo=KL/\" "
                      "title=\"quant@prune=width_0.5,algo=KL (best of rank)\">KL4_1 w0.50 ★</a></td>"),
            std::string::npos)
      << html;
  // Charts: the metric against latency (per batch size) and size, the chosen model marked once in each.
  EXPECT_NE(html.find("aria-label=\"accuracy vs latency, batch 32\""), std::string::npos) << html;
  EXPECT_NE(html.find("aria-label=\"accuracy vs size\""), std::string::npos) << html;
  std::size_t chosen = 0;
  for (std::size_t at = 0; (at = html.find("class=\"mark pruned-int8 chosen\"", at)) != std::string::npos; ++at)
    ++chosen;
  EXPECT_GE(chosen, 2u) << html;
  EXPECT_EQ(html.find("<script"), std::string::npos) << "self-contained, no script";

  const std::string md = r.markdown();
  EXPECT_NE(md.find("| **quant@prune=width_0.5,algo=KL (best of rank)** |"), std::string::npos) << md;
  EXPECT_NE(md.find("## Failed instances and unreadable artifacts"), std::string::npos);
  EXPECT_NE(md.find("speedup b32"), std::string::npos);
  EXPECT_NE(md.find("10 instances: 9 done, 1 failed"), std::string::npos) << md;
  // The assessing node's own paragraph, with its details file.
  EXPECT_NE(md.find("## rank\n\nBest: KL (objective metric). Every figure: `rank/ranking.md`.\n"), std::string::npos)
      << md;
  EXPECT_NE(html.find("<h2>rank</h2>\n<p>Best: KL (objective metric). Every figure: <a "
                      "href=\"rank/ranking.md\">rank/ranking.md</a>.</p>"),
            std::string::npos);
}

TEST(RunReport, RowsDeltasLatenciesAndBestFromLockManifestsAndRanking) {
  const path run = make_run("report");
  const auto r = slimpipe::core::build_run_report(run, "demo", "avx2");
  ASSERT_EQ(r.rows.size(), 10u);
  EXPECT_EQ(r.pipeline, "demo");
  EXPECT_EQ(slimpipe::core::build_run_report(run, "", "avx2").pipeline, "demo-lock") << "the name the lock records";
  EXPECT_EQ(r.host_isa, "avx2");
  // Pipeline order: train before its evaluation (same finishing second), the failed cell last.
  EXPECT_EQ(r.rows.front().id, "train");
  EXPECT_EQ(r.rows.back().id, kHist);
  EXPECT_EQ(r.rows.back().status, "failed");
  EXPECT_NE(r.rows.back().error.find("<encoder.layer.0>"), std::string::npos);
  ASSERT_NO_FATAL_FAILURE(check_rows(r, run));
  ASSERT_NO_FATAL_FAILURE(check_csv(r));
  check_html_and_markdown(r);

  const auto files = slimpipe::core::write_run_report(r, run);
  ASSERT_EQ(files.size(), 4u);
  const Json summary = Json::parse(testutil::read_file(run / "summary.json"));
  EXPECT_EQ(summary["rows"].size(), 10u);
  EXPECT_EQ(summary["host"]["isa"], "avx2");
  EXPECT_FALSE(testutil::fs::exists(run / "report.md.tmp"));
  testutil::fs::remove_all(run);
}

// A cell whose input is the pipeline's [model] (outside the run, as with `slimpipe compress --strategy ptq`)
// has no chain to a row: its Δ is the one rank computed against its reference.
TEST(RunReport, DeltaOfACandidateFromOutsideTheRunComesFromTheRanking) {
  const path run = make_run("report-external");
  Json kl = read_manifest(run, "quant/prune=width_0.5,algo=KL");
  kl["model"]["input_model"] = {{"id", "model"}, {"dir", "/elsewhere/width_0.5"}};
  kl["parents"] = Json::array({{{"id", "model"}}});
  testutil::write_file(run / "quant/prune=width_0.5,algo=KL/manifest.json", kl.dump());
  Assessment a = rank_assessment();
  a.models[1].reference = 81.0;
  a.models[1].delta = -2.0;
  a.models[2].reference = 81.0;
  a.models[2].delta = -99.0;  // ignored: this cell's chain reaches train inside the run
  Json rank = read_manifest(run, "rank");
  rank["assessment"] = a.to_json();
  testutil::write_file(run / "rank/manifest.json", rank.dump());

  const auto r = slimpipe::core::build_run_report(run, "demo", "avx2");
  const ReportRow& cell = row(r, kKL);
  EXPECT_EQ(cell.baseline, "train");  // the assessment's baseline
  EXPECT_DOUBLE_EQ(cell.baseline_metric.value(), 81.0);
  EXPECT_DOUBLE_EQ(cell.delta.value(), -2.0);
  EXPECT_DOUBLE_EQ(row(r, kMse).delta.value(), -1.75);
  testutil::fs::remove_all(run);
}

// `slimpipe compress --strategy dynabert+ptq`: the user's model ([model], outside the run) is a row, with the metric
// rank measured, timed; every row's Δ is against it, with rank's interval, SQNR and agreement; the pruned width
// is timed; no max_metric_drop reads as such (not "null").
TEST(RunReport, TheInputModelIsARowAndEveryDeltaIsAgainstIt) {
  const path run = make_run("report-input");
  const path user_model = run / "user_model";
  testutil::write_file(user_model / "model.safetensors", std::string(1234, 'x'));
  Json width = read_manifest(run, "prune/width_0.5");
  width["model"]["input_model"] = {{"id", "model"}, {"dir", user_model.string()}};
  width["model"]["input_metric"] = 80.5;
  width["parents"] = Json::array({{{"id", "model"}}});
  testutil::write_file(run / "prune/width_0.5/manifest.json", width.dump());
  Assessment a = rank_assessment();
  a.baseline = "model";
  a.models[0].id = "model";
  a.models[0].metric = 81.0;
  a.models[0].latency = latency({{1, 3.0, 3.3, 1.0}});
  AssessedModel parent;
  parent.id = "prune/width_0.5";
  parent.role = "fp32 parent";
  parent.metric = 79.5;
  parent.delta_low = -2.5;
  parent.delta_high = -0.5;
  parent.latency_noisy = true;
  parent.latency = latency({{1, 2.0, 3.0, 1.5}});
  a.models.push_back(parent);
  a.models[1].delta_low = -3.0;
  a.models[1].delta_high = 1.0;
  a.models[1].logit_sqnr_db = 31.5;
  a.models[1].agreement = 0.97;
  Json rank = read_manifest(run, "rank");
  rank["assessment"] = a.to_json();
  testutil::write_file(run / "rank/manifest.json", rank.dump());

  const auto r = slimpipe::core::build_run_report(run, "demo", "avx2");
  ASSERT_EQ(r.rows.size(), 11u);
  const ReportRow& input = row(r, "model");
  EXPECT_EQ(r.rows.front().id, "model");
  EXPECT_EQ(input.kind, "model");
  EXPECT_DOUBLE_EQ(input.metric.value(), 81.0);  // rank's measurement before the width's input_metric
  EXPECT_EQ(input.model_bytes.value(), 1234);
  EXPECT_DOUBLE_EQ(input.latency.at(1).p50_ms, 3.0);
  const ReportRow& w = row(r, "prune/width_0.5");
  EXPECT_EQ(w.baseline, "model");
  EXPECT_DOUBLE_EQ(w.delta.value(), -1.5);
  EXPECT_DOUBLE_EQ(w.delta_low.value(), -2.5);
  EXPECT_DOUBLE_EQ(w.latency.at(1).p50_ms, 2.0);  // the pruned fp32 model, timed
  EXPECT_TRUE(w.latency_noisy);
  const ReportRow& kl = row(r, kKL);
  EXPECT_EQ(kl.baseline, "model");
  EXPECT_DOUBLE_EQ(kl.delta.value(), -2.0);
  EXPECT_DOUBLE_EQ(kl.delta_low.value(), -3.0);
  EXPECT_DOUBLE_EQ(kl.delta_high.value(), 1.0);
  EXPECT_DOUBLE_EQ(kl.logit_sqnr_db.value(), 31.5);
  EXPECT_DOUBLE_EQ(kl.agreement.value(), 0.97);
  EXPECT_DOUBLE_EQ(row(r, "rank").logit_sqnr_db.value(), 31.5);  // the rank's artifact is that cell
  EXPECT_EQ(row(r, "train").baseline, "");  // another root: no Δ against the input model is invented
  const std::string md = r.markdown();
  EXPECT_NE(md.find("| Δ CI | SQNR dB | agree % |"), std::string::npos) << md;
  EXPECT_NE(md.find("[-3.00, +1.00]"), std::string::npos) << md;
  EXPECT_NE(md.find("| 1.50 noisy |"), std::string::npos) << md;  // the width's p90/p50, re-measured and still spread
  std::istringstream csv(r.csv());
  std::string header;
  std::getline(csv, header);
  for (const char* col : {",delta_low,delta_high,logit_sqnr_db,agreement,", ",latency_noisy,"})
    EXPECT_NE(header.find(col), std::string::npos) << header;
  testutil::fs::remove_all(run);
}

TEST(RunReport, FolderWithoutLockIsAnErrorNamingIt) {
  const path dir = testutil::temp_dir("report-nolock");
  try {
    slimpipe::core::build_run_report(dir, "", "avx2");
    ADD_FAILURE() << "no error";
  } catch (const slimpipe::Error& e) {
    EXPECT_EQ(std::string(e.what()),
              dir.string() + ": no pipeline.lock: not the output folder of a slimpipe run (run the pipeline first)");
  }
  const auto cli = testutil::run_command(std::string(SLIMPIPE_CLI) + " report " + dir.string());
  EXPECT_EQ(cli.exit_code, 1);
  EXPECT_EQ(cli.output, "slimpipe: " + dir.string() +
                            ": no pipeline.lock: not the output folder of a slimpipe run (run the pipeline first)\n");
  testutil::fs::remove_all(dir);
}

// A run killed before it folded its journal into pipeline.lock is reported from the journal; the CLI
// prints the Markdown and writes the four files (to --out when given).
TEST(RunReport, InterruptedRunIsReportedFromTheJournalThroughTheCli) {
  const path run = make_run("report-journal", true);
  const path elsewhere = run / "elsewhere";
  const auto cli =
      testutil::run_command(std::string(SLIMPIPE_CLI) + " report " + run.string() + " --out " + elsewhere.string());
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  // No pipeline.lock, so no recorded name: the folder's.
  EXPECT_NE(cli.output.find("# Run report: " + run.filename().string() + "\n"), std::string::npos) << cli.output;
  EXPECT_NE(cli.output.find("(best of rank)"), std::string::npos) << cli.output;
  for (const char* f : {"report.md", "report.html", "summary.csv", "summary.json"}) {
    EXPECT_TRUE(testutil::fs::exists(elsewhere / f)) << f;
    EXPECT_FALSE(testutil::fs::exists(run / f)) << f;
  }
  EXPECT_EQ(Json::parse(testutil::read_file(elsewhere / "summary.json"))["rows"].size(), 10u);
  testutil::fs::remove_all(run);
}

}  // namespace
