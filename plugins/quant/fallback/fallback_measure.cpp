// fallback's measurements (fallback.hpp): the fp32 parent, the chain's first fp32 model and the input on the same eval
// examples; the shipped model against them (interval, SQNR, agreement); runtime latency; the held-out test split;
// and the manifest's model and assessment blocks through which the run report reads them.
#include <cmath>

#include "fallback.hpp"
#include "slimpipe/io/model_folder.hpp"
#include "slimpipe/numbers.hpp"
#include "slimpipe/quant/model_evaluation.hpp"
#include "slimpipe/quant/quant_error.hpp"
#include "slimpipe/tasks/data_source.hpp"

namespace slimpipe::fallback {

namespace {

std::optional<double> sqnr_of(const tasks::ExampleEvaluation& ref, tasks::ExampleEvaluation e) {
  if (ref.outputs.size() != e.outputs.size() || ref.outputs.empty()) return std::nullopt;
  std::vector<float> r = ref.outputs;
  const auto n = static_cast<std::int64_t>(r.size());
  const quant::QuantError q =
      quant::quant_error(at::from_blob(r.data(), {n}, at::kFloat), at::from_blob(e.outputs.data(), {n}, at::kFloat));
  return std::isinf(q.sqnr_db) ? 999.0 : q.sqnr_db;  // identical outputs, stored as 999 (the report reads it so)
}

std::optional<double> agreement_of(const tasks::ExampleEvaluation& ref, const tasks::ExampleEvaluation& e) {
  if (ref.predictions.size() != e.predictions.size() || e.predictions.empty()) return std::nullopt;
  return tasks::prediction_agreement(ref.predictions, e.predictions);
}

}  // namespace

tasks::ExampleEvaluation Fallback::evaluate(nn::TaskModelImpl& model, const FeatureSet& data,
                                            const quant::FakeQuantPlan* plan) const {
  const nn::SiteHook hook = plan ? quant::make_fake_quant_hook(*plan) : nn::SiteHook{};
  if (scoring_) return scoring_->evaluate_examples(model, data, s_.eval_batch, hook);
  tasks::ExampleEvaluation e;
  e.metrics = ctx_->task().evaluate(model, data, s_.eval_batch, hook);
  return e;
}

Measured Fallback::measure(const ModelRef& ref, bool quantized, const std::string& split) const {
  Measured m{ref, quantized, {}};
  if (scoring_) {
    m.eval = quant::evaluate_model_folder(ref.dir, quantized, ctx_->task(), *scoring_, ctx_->device(), s_.max_seq,
                                          s_.eval_batch, split);
    return m;
  }
  m.eval.metrics = quant::evaluate_model_folder_metrics(ref.dir, quantized, ctx_->task(), ctx_->device(), s_.max_seq,
                                                        s_.eval_batch, split);
  return m;
}

void Fallback::measure_references() {
  Context& ctx = *ctx_;
  ctx.progress().begin("evaluate", root_.id == parent_.id ? 2 : 3);
  parent_m_ = measure(parent_, false);
  ctx.progress().update(1);
  input_m_ = measure({input_->id(), input_->dir()}, true);
  ctx.progress().update(2);
  root_m_ = root_.id == parent_.id ? parent_m_ : measure(root_, io::model_kind(root_.dir) == "quantized_model");
  ctx.progress().end();
  ctx.log().info("fallback: " + in_mm_.primary_metric + " of " + input_->id() + " " + fixed(input_m_->value(), 2) +
                 ", of its fp32 parent " + parent_.id + " " + fixed(parent_m_->value(), 2) + " (drop " +
                 fixed(parent_m_->value() - input_m_->value(), 2) + ", target " + fixed(s_.until, 2) + ")");
  compare_result(input_m_->eval);
}

// Of e's metric minus base's, paired on the same examples (same seed: the same resamples as rank's intervals).
std::optional<metrics::Interval> Fallback::interval(const Measured& base, const tasks::ExampleEvaluation& e) const {
  const auto& b = base.eval.stats;
  if (s_.resamples <= 0 || b.examples() == 0 || b.examples() != e.stats.examples() || b.width != e.stats.width)
    return std::nullopt;
  const auto boot = metrics::paired_bootstrap({&b, &e.stats}, s_.resamples, static_cast<std::uint64_t>(ctx_->seed()));
  return metrics::difference_interval(boot, 1, 0, s_.confidence);
}

void Fallback::measure_result(nn::TaskModelImpl& model, const FeatureSet& data) {
  compare_result(evaluate(model, data, &plan_));
}

void Fallback::compare_result(tasks::ExampleEvaluation e) {
  result_ = std::move(e);
  ci_root_ = interval(*root_m_, result_);
  ci_parent_ = interval(*parent_m_, result_);
  sqnr_ = sqnr_of(parent_m_->eval, result_);
  agreement_ = agreement_of(parent_m_->eval, result_);
}

// The new model, the input it was made from and the chain's first fp32 model, timed in the same alternating rounds.
void Fallback::time_models() {
  if (!s_.bench.enabled) return;
  Context& ctx = *ctx_;
  Task* task = &ctx.task();
  result_timing_.model_dir = ctx.output().dir();
  result_timing_.kind = "quantized_model";
  input_timing_.model_dir = input_->dir();
  input_timing_.kind = "quantized_model";
  root_timing_.model_dir = root_.dir;
  root_timing_.kind = io::model_kind(root_.dir);
  for (exporter::ModelTiming* t : {&result_timing_, &input_timing_, &root_timing_})
    exporter::prepare_runtime(*t, ctx.scratch_dir(), task, ctx.device());
  if (result_timing_.exported_here) {  // the shipped model carries its package
    io::link_tree(result_timing_.runtime_dir, ctx.output().dir() / "runtime");
    result_timing_.runtime_dir = ctx.output().dir() / "runtime";
  }
  exporter::time_all({&result_timing_, &input_timing_, &root_timing_}, s_.bench, ctx);
  for (const exporter::ModelTiming* t : {&result_timing_, &input_timing_, &root_timing_})
    if (!t->note.empty()) ctx.log().warn("fallback: " + t->model_dir.filename().string() + ": " + t->note);
}

void Fallback::evaluate_test() {
  const auto* splits = dynamic_cast<const tasks::SplitInfo*>(&ctx_->task());
  if (!s_.report_test || !splits || !splits->has_split(tasks::DataSplit::Test)) return;
  try {
    test_value_ = measure({"", ctx_->output().dir()}, true, "test").value();
    root_test_ = measure(root_, io::model_kind(root_.dir) == "quantized_model", "test").value();
  } catch (const Error& e) {
    ctx_->log().warn("fallback: cannot evaluate on the test split: " + std::string(e.what()));
  }
}

std::map<std::int64_t, Latency> Fallback::latency_map(const exporter::ModelTiming& t) const {
  std::map<std::int64_t, Latency> out;
  const auto& batches = s_.bench.options.batches;
  for (std::size_t i = 0; t.timed() && i < batches.size(); ++i) {
    std::optional<double> speedup;
    if (root_timing_.timed() && t.p50[i] > 0) speedup = root_timing_.p50[i] / t.p50[i];
    out[batches[i]] = {t.p50[i], t.p90[i], speedup};
  }
  return out;
}

}  // namespace slimpipe::fallback
