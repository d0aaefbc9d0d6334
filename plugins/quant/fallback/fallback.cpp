// fallback: the Strategy (fallback.hpp): its settings, the order of its steps, publishing an input that needs no
// fallback, its parameters.
#include "fallback.hpp"

#include "slimpipe/io/checked_file.hpp"
#include "slimpipe/io/model_folder.hpp"
#include "slimpipe/numbers.hpp"
#include "slimpipe/plugin.hpp"

namespace slimpipe::fallback {

Settings Settings::read(Context& ctx, const Params& p) {
  Settings s;
  s.until = p.get_float("until_drop_below");
  s.max_sites = p.get_int("max_sites");
  if (s.max_sites < 0)
    throw Error("fallback: max_sites must be >= 0 (0 = no limit), got " + std::to_string(s.max_sites));
  s.max_seq = p.get_int("max_seq_length");
  s.eval_batch = p.get_int("per_device_eval_batch_size");
  if (s.eval_batch <= 0)
    throw Error("fallback: per_device_eval_batch_size must be > 0, got " + std::to_string(s.eval_batch));
  s.resamples = static_cast<int>(p.get_int("bootstrap_resamples"));
  if (s.resamples < 0) throw Error("fallback: bootstrap_resamples must be >= 0, got " + std::to_string(s.resamples));
  s.confidence = p.get_float("confidence");
  if (!(s.confidence > 0 && s.confidence < 1))
    throw Error("fallback: confidence must be in (0, 1), got " + fixed(s.confidence, 3));
  s.report_test = p.get_bool("report_test");
  s.bench = exporter::read_timing_rounds(ctx, p, "fallback");
  return s;
}

void Fallback::read_input(const std::vector<Artifact>& inputs) {
  if (inputs.size() != 1)
    throw Error("fallback: takes exactly one model (the rank or ptq node it follows), got " +
                std::to_string(inputs.size()) + " inputs");
  input_ = &inputs.front();
  const std::string where = (input_->dir() / "manifest.json").string();
  const auto mm = ModelManifest::read(*input_);
  if (!mm || mm->primary_metric.empty())
    throw Error(where + ": no model block naming a primary_metric (fallback takes a model: a ptq cell or rank)");
  in_mm_ = *mm;
  if (!ctx_->has_task()) throw Error("fallback: the pipeline has no [task] (the model is evaluated on its eval split)");
  scoring_ = dynamic_cast<const tasks::ExampleScoring*>(&ctx_->task());
  io::check_before_publishing(*input_, "fallback");  // before its files are read or linked into out
}

// The input as it is: its files, its model block (with what was measured here), its metrics.
void Fallback::publish_input(const std::string& why) {
  Context& ctx = *ctx_;
  ctx.log().info("fallback: not needed: " + why + "; publishing " + input_->id() + " as it is");
  io::copy_model_files(input_->dir(), ctx.output().dir());
  for (const auto& [name, value] : input_->metrics().items())
    if (value.is_number()) ctx.output().set_metric(name, value.get<double>());
  write_file_atomic(
      ctx.output().dir() / "fallback.json",
      Json{{"from", input_->id()}, {"needed", false}, {"why", why}, {"target_drop", s_.until}}.dump(2) + "\n");
  write_manifest(false);
}

void Fallback::run(Context& ctx, const std::vector<Artifact>& inputs, const Params& p) {
  ctx_ = &ctx;
  s_ = Settings::read(ctx, p);
  read_input(inputs);
  if (input_->kind() != "quantized_model") return publish_input(input_->id() + " is an fp32 model");
  const auto parent = io::fp32_parent(in_mm_);
  if (!parent)
    throw Error((input_->dir() / "manifest.json").string() +
                ": model.input_model names no fp32 model folder (the drop is measured against the model the INT8 "
                "model was quantized from)");
  parent_ = *parent;
  root_ = io::furthest_fp32_ancestor(*input_).value_or(parent_);
  measure_references();
  const double drop = parent_m_->value() - input_m_->value();
  if (drop <= s_.until)
    return publish_input(in_mm_.primary_metric + " " + fixed(input_m_->value(), 2) + " is " + fixed(drop, 2) +
                         " below " + parent_.id + " (" + fixed(parent_m_->value(), 2) + "), within until_drop_below " +
                         fixed(s_.until, 2));
  search();
}

Schema schema() {
  using T = ParamType;
  return exporter::with_timing_params(
      Schema()
          .required("until_drop_below", T::Float,
                    "return the most sensitive sites to fp32, one at a time, until the model is at most this many "
                    "points of its primary metric below the fp32 model it was quantized from")
          .param("max_sites", T::Int, 0, "at most this many sites go back to fp32; 0 = no limit")
          .param("per_device_eval_batch_size", T::Int, 32, "evaluation batch size")
          .param("max_seq_length", T::Int, 0, "tokenized sequence length; 0 = the task's max_seq_length")
          .param("bootstrap_resamples", T::Int, 1000,
                 "paired bootstrap resamples of the eval examples for the intervals; 0 = none")
          .param("confidence", T::Float, 0.95, "two-sided confidence of the intervals")
          .param("report_test", T::Bool, true,
                 "when the task has a test split: evaluate the shipped model and the chain's first fp32 model on it, "
                 "to report beside dev (never used to decide)"));
}

}  // namespace slimpipe::fallback

SLIMPIPE_PLUGIN(slimpipe::fallback::Fallback, "fallback", "1.0.0",
                "return an INT8 model's most sensitive sites to fp32 until its drop against its fp32 parent is within "
                "a target; the new model measured like a rank candidate (interval, SQNR, agreement, latency, test)",
                slimpipe::fallback::schema)
