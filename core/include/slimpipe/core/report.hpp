// The run-level report: every artifact of a run folder in one table, the pipeline's input model ([model], the
// user's model) included (metric, Δ against the model it came from at the root of its chain, model size, parameters,
// runtime latency and speedup where a node such as `rank` timed it, the best candidate marked), failed instances with
// their errors, and the host's ISA. Built from pipeline.lock and each artifact's manifest.json, so `slimpipe report`
// can rebuild it for any run folder, finished, failed or interrupted. Written as report.md, report.html, summary.csv
// and summary.json next to pipeline.lock (docs/pipelines.md, "Run report").
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "slimpipe/model_manifest.hpp"
#include "slimpipe/params.hpp"

namespace slimpipe::core {

// p50 and p90 in ms, and the speedup against the measuring node's fp32 baseline.
using ReportLatency = slimpipe::Latency;

struct ReportRow {
  std::string id;        // the artifact's id (manifest "id"), e.g. "prune/width_0.75"
  std::string instance;  // the instance that produced it (pipeline.lock)
  std::string node, plugin, kind;
  std::string status;  // "done" or "failed"
  std::string path;    // relative to the run folder; empty for a failed instance; the folder itself for the input model
  std::string error;   // the instance's error, or what was wrong with its manifest
  std::string primary;  // primary metric name; empty when the artifact has none
  std::optional<double> metric;
  std::string baseline;  // id of the root of the artifact's input_model chain; empty for a root
  std::optional<double> baseline_metric, delta;
  // From a rank node that evaluated the row against the same baseline on the same examples: the paired-bootstrap
  // interval of delta; and, against the fp32 model the row was made from, logit SQNR (dB) and the fraction of
  // examples predicted alike (a ptq cell's own SQNR when no rank measured it).
  std::optional<double> delta_low, delta_high, logit_sqnr_db, agreement;
  std::optional<std::int64_t> param_count;
  std::optional<std::int64_t> model_bytes;  // INT8 weights of a quantized model, else model.safetensors
  std::optional<double> width;
  std::string label;                              // the model's short name (a PTQ cell's KL4_1, ...)
  std::map<std::int64_t, ReportLatency> latency;  // by batch size
  bool latency_noisy = false;  // rank re-measured it and its p90/p50 stayed above its bench_max_spread
  bool best = false;           // the best candidate of a `rank` node
  std::string best_of;         // that rank node's id
  bool assessor = false;       // the row's manifest has an assessment: a node that measured others (rank)
  double seconds = 0;          // the instance's wall time
  std::string finished;
};

struct RunReport {
  std::string pipeline;  // the pipeline's name: as given, else as pipeline.lock records it, else the folder's
  std::filesystem::path run_dir;
  std::string generated;             // ISO 8601, UTC
  std::string host_isa;              // what slimpipe_runtime dispatches to on this host
  std::string version;               // slimpipe's
  std::vector<ReportRow> rows;       // in the order the instances finished
  Json assessments = Json::array();  // per node that measured others (rank): its summary, best and paragraph
  // The chosen INT8 models' per-site output SQNR (their model blocks' site_sensitivity), most sensitive first.
  struct Sensitivity {
    std::size_t row;  // index into rows
    std::vector<std::pair<std::string, double>> sites;
  };
  std::vector<Sensitivity> sensitivities;

  // Batch sizes that any row has a latency for, ascending.
  std::vector<std::int64_t> latency_batches() const;
  Json to_json() const;
  std::string markdown() const;
  std::string html() const;
  std::string csv() const;
};

// Reads `run_dir`/pipeline.lock (and its journal, for an interrupted run) and every artifact's
// manifest.json, through the typed blocks of slimpipe/model_manifest.hpp: "model" gives each row its columns,
// "assessment" (a rank node's) latencies, intervals, fidelity and the best. Throws Error naming the folder when it
// holds no pipeline.lock. A missing or unreadable manifest, or a malformed block, becomes a row with the problem in
// `error`, not an exception.
RunReport build_run_report(const std::filesystem::path& run_dir, const std::string& pipeline_name,
                           const std::string& host_isa);

// Writes report.md, report.html, summary.csv and summary.json into `out_dir` (each through a
// temporary file and a rename) and returns their paths.
std::vector<std::filesystem::path> write_run_report(const RunReport& report, const std::filesystem::path& out_dir);

}  // namespace slimpipe::core
