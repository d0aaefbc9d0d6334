// fallback's search (fallback.hpp): the input's sites back in fp32, most sensitive first, one at a time, each step
// evaluated, until the drop against the fp32 parent is within the target; then the new model's files.
#include <ATen/Parallel.h>

#include "fallback.hpp"
#include "slimpipe/export/qdq_export.hpp"
#include "slimpipe/export/runtime_export.hpp"
#include "slimpipe/io/checked_file.hpp"
#include "slimpipe/io/checkpoint.hpp"
#include "slimpipe/io/model_folder.hpp"
#include "slimpipe/numbers.hpp"
#include "slimpipe/quant/ptq.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"

namespace slimpipe::fallback {

void Fallback::search() {
  Context& ctx = *ctx_;
  std::vector<std::string> order;
  for (const auto& [site, db] : in_mm_.site_sensitivity) order.push_back(site);
  if (order.empty())
    throw Error((input_->dir() / "manifest.json").string() +
                ": model.site_sensitivity is empty (the fallback needs the per-site sensitivity a ptq cell records)");
  Task& task = ctx.task();
  io::LoadOptions load;
  load.head = task.head().head;
  load.device = ctx.device();
  io::LoadedModel model = io::load_model(input_->dir(), load);
  if (ctx.threads() > 0) at::set_num_threads(ctx.threads());
  const quant::FakeQuantPlan plan = quant::load_plan(input_->dir());
  const auto data = task.features("eval", text::WordPieceTokenizer::from_directory(input_->dir()), s_.max_seq);
  const double reference = parent_m_->value();
  const auto limit = static_cast<std::size_t>(s_.max_sites > 0 ? std::min<std::int64_t>(order.size(), s_.max_sites)
                                                               : static_cast<std::int64_t>(order.size()));
  double value = input_m_->value();
  ctx.progress().begin("fallback", static_cast<std::int64_t>(limit));
  for (std::size_t k = 0; k < limit && reference - value > s_.until; ++k) {
    fp32_sites_.push_back(order[k]);
    plan_ = quant::without_sites(plan, fp32_sites_);
    value = task.evaluate(*model.model, *data, s_.eval_batch, quant::make_fake_quant_hook(plan_)).value;
    steps_.push_back({{"fp32_site", order[k]}, {in_mm_.primary_metric, value}, {"drop", reference - value}});
    ctx.log().info("fallback: " + order[k] + " -> fp32: " + in_mm_.primary_metric + " " + fixed(value, 2) + " (drop " +
                   fixed(reference - value, 2) + ")");
    ctx.progress().update(static_cast<std::int64_t>(k + 1));
    ctx.throw_if_cancelled();
  }
  ctx.progress().end();
  met_ = reference - value <= s_.until;
  if (!met_)
    ctx.log().warn("fallback: drop still " + fixed(reference - value, 2) + " after " +
                   std::to_string(fp32_sites_.size()) + " sites in fp32 (max_sites " + std::to_string(s_.max_sites) +
                   ")");
  write_model(*model.model);
  measure_result(*model.model, *data);
  time_models();
  evaluate_test();
  write_manifest(true);
}

// The input's files with the new plan: its calibration, int8 weights and exports replaced by ones without the fp32
// sites (the QDQ ONNX and the runtime package only where the input had them).
void Fallback::write_model(nn::TaskModelImpl& model) {
  auto& out = ctx_->output();
  io::copy_model_files(input_->dir(), out.dir());
  for (const char* f : {"calibration.json", "quant_weights.safetensors", "model.int8.onnx"}) fs::remove(out.dir() / f);
  fs::remove_all(out.dir() / "runtime");
  quant::save_plan(out.dir(), plan_, {{"fallback_fp32_sites", fp32_sites_}, {"from", input_->id()}});
  if (fs::exists(input_->dir() / "model.int8.onnx"))
    exporter::export_qdq_onnx(model, plan_, out.dir() / "model.int8.onnx");
  if (fs::exists(input_->dir() / "runtime")) exporter::export_runtime(model, plan_, out.dir() / "runtime");
  model_bytes_ = quant::quantized_size_bytes(model, plan_);
  write_file_atomic(out.dir() / "fallback.json",
                    Json{{"from", input_->id()},
                         {"needed", true},
                         {"target_drop", s_.until},
                         {"reference", {{"id", parent_.id}, {"value", parent_m_->value()}}},
                         {"met", met_},
                         {"fp32_sites", fp32_sites_},
                         {"steps", steps_}}
                            .dump(2) +
                        "\n");
}

}  // namespace slimpipe::fallback
