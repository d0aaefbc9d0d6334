// rank: a collect node that evaluates every candidate model and its fp32 parents on the same eval examples (Δ with a
// paired-bootstrap interval, logit SQNR and prediction agreement), times them with slimpipe_runtime, keeps the best
// by a noise-aware rule (docs/quantization.md, "How rank chooses") and ships it (a `fallback` node after rank can
// return the chosen INT8 cell's most sensitive sites to fp32). Candidates are read through their manifests' "model"
// blocks; rank writes its own model block and an "assessment" block for the run report (slimpipe/model_manifest.hpp).
//
// One Rank object per instance holds the run's state; the steps of run() are its methods, one file per step:
//   rank.cpp           settings, run(), schema
//   rank_models.cpp    candidates, the baseline and fp32 parents, the dev evaluation, eligibility, timing
//   rank_choice.cpp    the choice
//   rank_test.cpp      the held-out test split, after every choice
//   rank_output.cpp    ranking.csv / ranking.md / ranking.json
//   rank_manifest.cpp  the manifest: model and assessment blocks, metrics
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "slimpipe/export/model_timing.hpp"
#include "slimpipe/metrics/bootstrap.hpp"
#include "slimpipe/model_manifest.hpp"
#include "slimpipe/numbers.hpp"
#include "slimpipe/strategy.hpp"
#include "slimpipe/tasks/example_scores.hpp"

namespace slimpipe::ranking {

namespace fs = std::filesystem;
using exporter::ModelTiming;
using exporter::TimingRounds;

std::string sqnr_text(double db);  // identical outputs (stored as 999) read as such
std::string interval_text(const std::optional<metrics::Interval>& i);
Json interval_json(const std::optional<metrics::Interval>& i);

struct Candidate {
  const Artifact* artifact = nullptr;
  ModelManifest model;  // its manifest's model block
  ModelTiming timing;
  std::string primary;
  double value = 0;
  std::optional<double> reference;  // the fp32 model's metric (the unpruned one when known)
  std::int64_t size_bytes = 0;
  bool meets = true;
  // Measured by rank on the eval split, example by example (evaluate = true and a task that scores per example).
  bool evaluated = false;
  std::optional<metrics::Interval> delta_ci;  // of value - reference, paired bootstrap
  std::optional<metrics::Interval> vs_best;   // of value - the best eligible candidate's value
  std::optional<double> sqnr_db;              // output logits against its fp32 model
  std::string sqnr_source;                    // "rank" (whole eval split) or "ptq" (the cell's manifest)
  std::optional<double> agreement;            // fraction of examples predicted as its fp32 model does
  std::string fp32_id;                        // that fp32 model (the input_model it was made from)
  std::string excluded;                       // why it cannot be chosen; empty: eligible
  bool within_noise = false;                  // its metric is within noise of the best eligible one
  // On the held-out test split, measured after every choice, only to report (report_test and a task with test).
  std::optional<double> test_value;
  std::optional<double> test_delta;  // against the baseline on the same test examples
  std::optional<metrics::Interval> test_delta_ci;
  bool quantized() const { return artifact->kind() == "quantized_model"; }
  double drop() const { return reference ? *reference - value : 0.0; }
};

// A model on the test split: its figure, and Δ with its interval against the baseline on the same examples.
struct ModelTest {
  std::optional<double> value, delta;
  std::optional<metrics::Interval> delta_ci;
};

struct Settings {
  bool has_max_drop = false;
  double max_drop = 0;
  std::string objective;
  double min_sqnr = 0, fidelity_tolerance = 0, confidence = 0;
  double latency_tolerance = 0.10;  // p50s closer than this fraction are equally fast
  int resamples = 0;
  std::string baseline;  // "auto", "none" or a candidate id
  bool evaluate = true, report_test = true;
  std::int64_t max_seq = 0, eval_batch = 0;
  TimingRounds bench;

  // Throws Error naming the parameter and what it must be.
  static Settings read(Context& ctx, const Params& p);
};

class Rank final : public Strategy {
 public:
  using Interface = Strategy;

  void run(Context& ctx, const std::vector<Artifact>& inputs, const Params& p) override;

 private:
  // rank_models.cpp
  void describe(const std::vector<Artifact>& inputs);
  void find_models();
  void evaluate_dev();
  std::int64_t evaluate_fp32_models();  // returns how many it tried (progress)
  void evaluate_candidates(std::vector<tasks::ExampleEvaluation>& evals, std::vector<bool>& have, std::int64_t done);
  void bootstrap(std::vector<tasks::ExampleEvaluation>& evals, const std::vector<bool>& have);
  void mark_eligible();
  void time_models();
  // rank_choice.cpp
  void choose();
  void choose_within_noise();
  // rank_test.cpp
  void evaluate_test();
  ModelTest score_test(const fs::path& dir, bool quantized, const std::string& what,
                       const std::optional<tasks::ExampleEvaluation>& base_eval);
  // rank_output.cpp
  std::optional<double> speedup(const ModelTiming& t, std::size_t i) const;
  Json latency_json(const ModelTiming& t) const;
  std::map<std::int64_t, Latency> latency_map(const ModelTiming& t) const;
  void write_table(std::ostringstream& csv, std::ostringstream& md, Json& rows) const;
  std::string model_line(const std::string& role, const ModelRef& ref, const ModelTiming* t, Json& models) const;
  std::string legend() const;
  std::string bench_text(Json& bench_json) const;
  void write_files();
  void write_manifest();
  Assessment assessment() const;
  std::string section() const;

  Context* ctx_ = nullptr;
  Settings s_;
  std::vector<Candidate> cands_;
  std::optional<ModelRef> base_ref_;         // every Δ is against it
  std::map<std::string, ModelRef> parents_;  // each candidate's fp32 model, by id
  std::vector<ModelRef> own_parents_;        // the parents that are neither candidates nor the baseline
  const tasks::ExampleScoring* scoring_ = nullptr;
  Json evaluation_;                                       // ranking.json's "evaluation"
  std::map<std::string, tasks::ExampleEvaluation> fp32_;  // the baseline and the parents, evaluated, by id
  std::optional<double> base_measured_;
  std::map<std::string, std::optional<metrics::Interval>> model_ci_;  // parents vs the baseline
  std::map<std::string, double> model_metric_;
  std::optional<metrics::PairedBootstrap> bootstrap_;  // baseline first; slots_[candidate] its row (0: none)
  std::vector<std::size_t> slots_;
  ModelTiming baseline_;  // the speed baseline
  std::string baseline_label_;
  std::map<std::string, ModelTiming> parent_timing_;  // parents that are neither candidates nor the baseline, by id
  std::vector<std::size_t> order_;                    // candidates in rank order; order_.front() is the best
  Json choice_;
  Json test_json_ = nullptr;
  std::optional<double> base_test_;
  std::map<std::string, ModelTest> model_test_;  // own parents on test
  Json summary_;                                 // ranking.json
  std::string table_md_;                         // ranking.md, for the log
};

}  // namespace slimpipe::ranking
