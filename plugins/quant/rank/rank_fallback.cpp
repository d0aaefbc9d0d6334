// rank's fallback (rank.hpp): the chosen INT8 cell re-evaluated with its most sensitive sites in fp32, one site
// at a time, until its drop against the fp32 model it was quantized from is at most fallback_until_drop_below. The
// model it makes is what rank ships, measured like every candidate.
#include <ATen/Parallel.h>

#include <cmath>

#include "publish.hpp"
#include "rank.hpp"
#include "slimpipe/export/qdq_export.hpp"
#include "slimpipe/export/runtime_export.hpp"
#include "slimpipe/io/checked_file.hpp"
#include "slimpipe/io/checkpoint.hpp"
#include "slimpipe/quant/ptq.hpp"
#include "slimpipe/quant/quant_error.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"

namespace slimpipe::ranking {

// What quantization lost is measured against the fp32 model the cell was quantized from (rank's measurement, else
// the cell's input_metric), not against the baseline, whose gap to a pruned width no site in fp32 can close.
std::optional<double> Rank::fallback_reference() const {
  const Candidate& best = cands_[order_.front()];
  if (const auto it = model_metric_.find(best.fp32_id); it != model_metric_.end()) return it->second;
  if (best.model.input_metric) return best.model.input_metric;
  return best.reference;
}

void Rank::fall_back(const Candidate& best, double reference) {
  Context& ctx = *ctx_;
  const Artifact& cell = *best.artifact;
  const double target = *s_.fallback_until;
  std::vector<std::string> order;
  for (const auto& [site, db] : best.model.site_sensitivity) order.push_back(site);
  if (order.empty())
    throw Error((cell.dir() / "manifest.json").string() +
                ": model.site_sensitivity is empty (the fallback needs the per-site sensitivity a ptq cell records)");
  Task& task = ctx.task();
  io::LoadOptions load;
  load.head = task.head().head;
  load.device = ctx.device();
  io::LoadedModel model = io::load_model(cell.dir(), load);
  if (ctx.threads() > 0) at::set_num_threads(ctx.threads());
  const quant::FakeQuantPlan plan = quant::load_plan(cell.dir());
  const auto tokenizer = text::WordPieceTokenizer::from_directory(cell.dir());
  const auto data = task.features("eval", tokenizer, s_.max_seq);
  const std::int64_t limit =
      s_.fallback_max_sites > 0 ? std::min<std::int64_t>(static_cast<std::int64_t>(order.size()), s_.fallback_max_sites)
                                : static_cast<std::int64_t>(order.size());
  std::vector<std::string> fp32_sites;
  Json steps = Json::array();
  quant::FakeQuantPlan current = plan;
  Metrics& m = fallback_.metrics;
  m = task.evaluate(*model.model, *data, s_.eval_batch, quant::make_fake_quant_hook(current));
  ctx.progress().begin("fallback", limit);
  for (std::int64_t k = 0; k < limit; ++k) {
    fp32_sites.push_back(order[k]);
    current = quant::without_sites(plan, fp32_sites);
    m = task.evaluate(*model.model, *data, s_.eval_batch, quant::make_fake_quant_hook(current));
    steps.push_back({{"fp32_site", order[k]}, {m.primary, m.value}, {"delta", m.value - reference}});
    ctx.log().info("fallback: " + order[k] + " -> fp32: " + m.primary + " " + fixed(m.value, 2) + " (drop " +
                   fixed(reference - m.value, 2) + ")");
    ctx.progress().update(k + 1);
    ctx.throw_if_cancelled();
    if (reference - m.value <= target) break;
  }
  ctx.progress().end();
  const bool met = reference - m.value <= target;
  if (!met)
    ctx.log().warn("fallback: drop still " + fixed(reference - m.value, 2) + " after " +
                   std::to_string(fp32_sites.size()) + " sites in fp32");
  auto& out = ctx.output();
  copy_model_files(cell.dir(), out.dir());
  for (const char* f : {"calibration.json", "quant_weights.safetensors", "model.int8.onnx"}) fs::remove(out.dir() / f);
  fs::remove_all(out.dir() / "runtime");
  quant::save_plan(out.dir(), current, {{"fallback_fp32_sites", fp32_sites}, {"from_cell", cell.id()}});
  if (fs::exists(cell.dir() / "model.int8.onnx"))
    exporter::export_qdq_onnx(*model.model, current, out.dir() / "model.int8.onnx");
  if (fs::exists(cell.dir() / "runtime")) exporter::export_runtime(*model.model, current, out.dir() / "runtime");
  out.manifest()["fallback_fp32_sites"] = fp32_sites;
  fallback_.model_bytes = quant::quantized_size_bytes(*model.model, current);
  out.manifest()["size_bytes_int8"] = fallback_.model_bytes;
  write_file_atomic(
      out.dir() / "metrics.json",
      Json{{"primary", m.primary}, {"eval", m.all}, {"fallback_fp32_sites", fp32_sites}, {"from_cell", cell.id()}}.dump(
          2) +
          "\n");
  fallback_.done = true;
  fallback_.json = {{"from_cell", cell.id()},   {"target_drop", target}, {"reference", reference}, {"met", met},
                    {"fp32_sites", fp32_sites}, {"steps", steps}};
  if (s_.evaluate && scoring_)
    measure_fallback(
        best, scoring_->evaluate_examples(*model.model, *data, s_.eval_batch, quant::make_fake_quant_hook(current)));
  if (s_.bench.enabled) time_fallback();
}

// The model the fallback made is what ships: the same figures as every candidate, against the same models.
void Rank::measure_fallback(const Candidate& best, const tasks::ExampleEvaluation& eval) {
  tasks::ExampleEvaluation e = eval;
  Json j = {{best.primary, e.stats.value()}};
  if (const auto parent = fp32_.find(best.fp32_id); parent != fp32_.end()) {
    auto ref_outputs = parent->second.outputs;
    if (ref_outputs.size() == e.outputs.size() && !ref_outputs.empty()) {
      const auto n = static_cast<std::int64_t>(ref_outputs.size());
      const quant::QuantError q = quant::quant_error(at::from_blob(ref_outputs.data(), {n}, at::kFloat),
                                                     at::from_blob(e.outputs.data(), {n}, at::kFloat));
      fallback_.sqnr = std::isinf(q.sqnr_db) ? 999.0 : q.sqnr_db;
      j["logit_sqnr_db"] = *fallback_.sqnr;
    }
    if (parent->second.predictions.size() == e.predictions.size() && !e.predictions.empty()) {
      fallback_.agreement = tasks::prediction_agreement(parent->second.predictions, e.predictions);
      j["agreement"] = *fallback_.agreement;
    }
  }
  if (const auto base = base_ref_ ? fp32_.find(base_ref_->id) : fp32_.end();
      base != fp32_.end() && s_.resamples > 0 && base->second.stats.examples() == e.stats.examples() &&
      base->second.stats.width == e.stats.width) {
    // Same seed, same example count: the same resamples as the candidates' intervals.
    const auto boot = metrics::paired_bootstrap({&base->second.stats, &e.stats}, s_.resamples,
                                                static_cast<std::uint64_t>(ctx_->seed()));
    fallback_.ci = metrics::difference_interval(boot, 1, 0, s_.confidence);
    j["delta"] = boot.full[1] - boot.full[0];
    j["delta_interval"] = interval_json(fallback_.ci);
  }
  fallback_.json["evaluation"] = j;
}

// The fallback model is a new one: exported and timed like the candidates.
void Rank::time_fallback() {
  Context& ctx = *ctx_;
  auto& out = ctx.output();
  Timing& t = fallback_.timing;
  t.model_dir = out.dir();
  t.kind = "quantized_model";
  prepare_runtime(t, ctx.scratch_dir(), ctx.has_task() ? &ctx.task() : nullptr, ctx.device());
  if (t.exported_here) {
    link_tree(t.runtime_dir, out.dir() / "runtime");
    t.runtime_dir = out.dir() / "runtime";
  }
  time_all({&t}, s_.bench, ctx);
  Json lat = Json::object();
  const auto& batches = s_.bench.options.batches;
  for (std::size_t i = 0; t.timed() && i < batches.size(); ++i) {
    const auto s = speedup(t, i);
    lat["batch_" + std::to_string(batches[i])] = {
        {"p50_ms", t.p50[i]}, {"p90_ms", t.p90[i]}, {"speedup", s ? Json(*s) : Json(nullptr)}};
  }
  fallback_.json["latency"] = lat;
  if (!t.note.empty()) fallback_.json["latency_note"] = t.note;
}

}  // namespace slimpipe::ranking
