// fallback: an INT8 model (a ptq cell, or what rank chose) with its most sensitive sites returned to fp32, one at a
// time in the order of its model block's site_sensitivity, until its drop against the fp32 model it was quantized
// from is at most until_drop_below (docs/quantization.md, "Layer fallback"). The model it makes is measured like a
// rank candidate: metric with a paired-bootstrap interval against the chain's first fp32 model, logit SQNR and
// agreement against the fp32 parent, runtime latency, the held-out test split. An input already within the target,
// or an fp32 one, is published as it is, with the figures measured.
//
//   fallback.cpp          settings, run(), publishing, schema
//   fallback_search.cpp   the site-by-site search and the new model's files
//   fallback_measure.cpp  evaluation, intervals, fidelity, timing, the test split
//   fallback_manifest.cpp the manifest's model and assessment blocks, metrics
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "slimpipe/export/model_timing.hpp"
#include "slimpipe/metrics/bootstrap.hpp"
#include "slimpipe/model_manifest.hpp"
#include "slimpipe/quant/fake_quant_hook.hpp"
#include "slimpipe/strategy.hpp"
#include "slimpipe/tasks/example_scores.hpp"

namespace slimpipe::fallback {

namespace fs = std::filesystem;

struct Settings {
  double until = 0;            // largest allowed drop against the fp32 parent, in metric points
  std::int64_t max_sites = 0;  // 0: no limit
  std::int64_t max_seq = 0, eval_batch = 0;
  int resamples = 0;
  double confidence = 0.95;
  bool report_test = true;
  exporter::TimingRounds bench;

  // Throws Error naming the parameter and what it must be.
  static Settings read(Context& ctx, const Params& p);
};

// One model measured on the eval split: example by example where the task scores so (intervals, SQNR, agreement).
struct Measured {
  ModelRef ref;
  bool quantized = false;
  tasks::ExampleEvaluation eval;
  double value() const { return eval.metrics.value; }
};

class Fallback final : public Strategy {
 public:
  using Interface = Strategy;

  void run(Context& ctx, const std::vector<Artifact>& inputs, const Params& p) override;

 private:
  // fallback.cpp
  void read_input(const std::vector<Artifact>& inputs);
  void publish_input(const std::string& why);
  // fallback_search.cpp
  void search();
  void write_model(nn::TaskModelImpl& model);
  // fallback_measure.cpp
  tasks::ExampleEvaluation evaluate(nn::TaskModelImpl& model, const FeatureSet& data,
                                    const quant::FakeQuantPlan* plan) const;
  Measured measure(const ModelRef& ref, bool quantized, const std::string& split = "eval") const;
  void measure_references();
  void measure_result(nn::TaskModelImpl& model, const FeatureSet& data);
  void compare_result(tasks::ExampleEvaluation e);  // the shipped model's figures against the references
  std::optional<metrics::Interval> interval(const Measured& base, const tasks::ExampleEvaluation& e) const;
  void time_models();
  void evaluate_test();
  std::map<std::int64_t, Latency> latency_map(const exporter::ModelTiming& t) const;
  // fallback_manifest.cpp
  void write_manifest(bool made_new);
  void write_metrics(bool made_new);
  std::string section(bool made_new) const;
  Assessment assessment(bool made_new) const;

  Context* ctx_ = nullptr;
  Settings s_;
  const Artifact* input_ = nullptr;
  ModelManifest in_mm_;
  ModelRef parent_;  // the fp32 model the input was quantized from: the drop is against it
  ModelRef root_;    // the chain's first fp32 model: intervals and speedups are against it
  const tasks::ExampleScoring* scoring_ = nullptr;
  std::optional<Measured> parent_m_, root_m_, input_m_;
  tasks::ExampleEvaluation result_;  // the model this node ships, on the eval split
  std::optional<metrics::Interval> ci_root_, ci_parent_;
  std::optional<double> sqnr_, agreement_;
  std::vector<std::string> fp32_sites_;
  Json steps_ = Json::array();
  bool met_ = false;
  std::int64_t model_bytes_ = 0;
  quant::FakeQuantPlan plan_;  // the shipped model's plan
  exporter::ModelTiming result_timing_, input_timing_, root_timing_;
  std::optional<double> test_value_, root_test_;
};

}  // namespace slimpipe::fallback
