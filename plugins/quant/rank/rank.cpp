// rank strategy (collect = true): every candidate upstream (PTQ cells, pruned widths, ...) in one table with its
// metric, its drop against the fp32 model it came from and its size; the best one under max_metric_drop is
// copied into this node's artifact. With fallback_until_drop_below, the best INT8 cell's most sensitive sites
// go back to fp32 one at a time until the drop is small enough (INC / NNCF-style layer fallback).
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <optional>
#include <sstream>

#include "slimpipe/export/qdq_export.hpp"
#include "slimpipe/io/checkpoint.hpp"
#include "slimpipe/plugin.hpp"
#include "slimpipe/quant/ptq.hpp"
#include "slimpipe/strategy.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"

namespace {

using namespace slimpipe;
namespace fs = std::filesystem;

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

bool set(const Params& p, const std::string& key) { return p.has(key) && !p.raw(key).is_null(); }

struct Candidate {
  const Artifact* artifact = nullptr;
  std::string primary;
  double value = 0;
  std::optional<double> reference;  // the fp32 model's metric (the unpruned one when known)
  std::int64_t size_bytes = 0;
  bool meets = true;
  double drop() const { return reference ? *reference - value : 0.0; }
};

double number(const Json& metrics, const std::string& key, const std::string& where) {
  if (!metrics.contains(key) || !metrics[key].is_number())
    throw Error(where + ": manifest metrics lack '" + key + "' (rank needs each candidate's primary metric)");
  return metrics[key].get<double>();
}

Candidate describe(const Artifact& a) {
  const Json& m = a.manifest();
  const std::string where = (a.dir() / "manifest.json").string();
  if (!m.contains("primary_metric") || !m["primary_metric"].is_string())
    throw Error(where + ": no primary_metric (rank takes model artifacts: finetune, dynabert, ptq outputs)");
  Candidate c;
  c.artifact = &a;
  c.primary = m["primary_metric"].get<std::string>();
  c.value = number(a.metrics(), c.primary, where);
  for (const std::string& key : {"origin_" + c.primary, "input_" + c.primary})
    if (a.metrics().contains(key) && a.metrics()[key].is_number()) {
      c.reference = a.metrics()[key].get<double>();
      break;
    }
  c.size_bytes = m.value("size_bytes_int8", m.value("size_bytes", std::int64_t{0}));
  return c;
}

// Copies the files of a finished artifact (hard links where the file system allows) except its manifest.
void copy_model_files(const fs::path& from, const fs::path& to) {
  for (const auto& e : fs::directory_iterator(from)) {
    const std::string name = e.path().filename().string();
    if (!e.is_regular_file() || name == "manifest.json" || name == "metrics.json") continue;
    std::error_code ec;
    fs::create_hard_link(e.path(), to / name, ec);
    if (ec) fs::copy_file(e.path(), to / name, fs::copy_options::overwrite_existing);
  }
}

class Rank final : public Strategy {
 public:
  using Interface = Strategy;

  void run(Context& ctx, const std::vector<Artifact>& inputs, const Params& p) override {
    if (inputs.empty()) throw Error("rank: no candidates (set collect = true and list the nodes to rank as inputs)");
    std::vector<Candidate> cands;
    for (const auto& a : inputs) cands.push_back(describe(a));
    for (const auto& c : cands)
      if (c.primary != cands.front().primary)
        throw Error("rank: candidates report different metrics ('" + cands.front().primary + "' and '" + c.primary + "')");
    const bool has_max_drop = set(p, "max_metric_drop");
    const double max_drop = has_max_drop ? p.get_float("max_metric_drop") : 0.0;
    const Json max_drop_json = has_max_drop ? Json(max_drop) : Json(nullptr);
    for (auto& c : cands) c.meets = !has_max_drop || c.drop() <= max_drop + 1e-12;
    // Best: meets the drop, then highest metric, then smallest.
    std::vector<std::size_t> order(cands.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      if (cands[a].meets != cands[b].meets) return cands[a].meets;
      if (cands[a].value != cands[b].value) return cands[a].value > cands[b].value;
      return cands[a].size_bytes < cands[b].size_bytes;
    });
    const Candidate& best = cands[order.front()];
    auto& out = ctx.output();
    const std::string primary = best.primary;

    // Fallback on the best INT8 cell.
    Json fallback = nullptr;
    Metrics final_metrics;
    bool fell_back = false;
    if (set(p, "fallback_until_drop_below") && best.artifact->kind() == "quantized_model" && best.reference &&
        best.drop() > p.get_float("fallback_until_drop_below")) {
      fallback = fall_back(ctx, *best.artifact, *best.reference, p, final_metrics);
      fell_back = true;
    } else {
      copy_model_files(best.artifact->dir(), out.dir());
    }

    // The table, in rank order.
    std::ofstream csv(out.dir() / "ranking.csv");
    csv << "rank,id," << primary << ",reference,delta,size_bytes,meets_max_drop,best\n";
    std::ostringstream md;
    md << "| rank | candidate | " << primary << " | fp32 | Δ | size MB | meets drop |\n|---|---|---|---|---|---|---|\n";
    Json rows = Json::array();
    for (std::size_t r = 0; r < order.size(); ++r) {
      const Candidate& c = cands[order[r]];
      const std::string ref = c.reference ? fixed(*c.reference, 2) : "";
      const std::string delta = c.reference ? fixed(c.value - *c.reference, 2) : "";
      csv << r + 1 << "," << c.artifact->id() << "," << fixed(c.value, 4) << "," << ref << "," << delta << ","
          << c.size_bytes << "," << (c.meets ? "yes" : "no") << "," << (r == 0 ? "yes" : "") << "\n";
      md << "| " << r + 1 << " | " << (r == 0 ? "**" + c.artifact->id() + "**" : c.artifact->id()) << " | "
         << fixed(c.value, 2) << " | " << ref << " | " << delta << " | " << fixed(c.size_bytes / 1e6, 2) << " | "
         << (c.meets ? "yes" : "no") << " |\n";
      rows.push_back({{"rank", r + 1}, {"id", c.artifact->id()}, {"dir", c.artifact->dir().string()},
                      {"kind", c.artifact->kind()}, {primary, c.value},
                      {"reference", c.reference ? Json(*c.reference) : Json(nullptr)},
                      {"delta", c.reference ? Json(c.value - *c.reference) : Json(nullptr)},
                      {"size_bytes", c.size_bytes}, {"meets_max_drop", c.meets}});
    }
    std::ofstream(out.dir() / "ranking.md") << md.str();
    const Json summary = {{"primary", primary},
                          {"max_metric_drop", max_drop_json},
                          {"best", best.artifact->id()},
                          {"best_meets_max_drop", best.meets},
                          {"candidates", rows},
                          {"fallback", fallback}};
    std::ofstream(out.dir() / "ranking.json") << summary.dump(2) << "\n";

    out.set_kind(best.artifact->kind());
    out.manifest()["primary_metric"] = primary;
    out.manifest()["best"] = best.artifact->id();
    for (const char* key : {"size_bytes_int8", "size_bytes_fp32", "ptq", "width", "paddle_name", "exports", "load"})
      if (best.artifact->manifest().contains(key)) out.manifest()[key] = best.artifact->manifest()[key];
    if (fell_back) {
      for (const auto& [name, value] : final_metrics.all.items())
        if (value.is_number()) out.set_metric(name, value.get<double>());
    } else {
      for (const auto& [name, value] : best.artifact->metrics().items())
        if (value.is_number()) out.set_metric(name, value.get<double>());
    }
    if (best.reference) out.set_metric("reference_" + primary, *best.reference);
    ctx.log().info("rank: " + std::to_string(cands.size()) + " candidates; best " + best.artifact->id() + " " + primary +
                   "=" + fixed(best.value, 2) + (best.reference ? " (fp32 " + fixed(*best.reference, 2) + ")" : "") +
                   (best.meets ? "" : "; no candidate meets max_metric_drop") +
                   (fell_back ? "; after fallback " + fixed(final_metrics.value, 2) : ""));
    ctx.log().info("ranking:\n" + md.str());
  }

 private:
  // Re-evaluates the cell with its most sensitive sites in fp32, adding one site at a time.
  Json fall_back(Context& ctx, const Artifact& cell, double reference, const Params& p, Metrics& final_metrics) {
    const double target = p.get_float("fallback_until_drop_below");
    Task& task = ctx.task();
    io::LoadOptions load;
    load.head = task.head().head;
    load.device = ctx.device();
    io::LoadedModel model = io::load_model(cell.dir(), load);
    if (ctx.threads() > 0) at::set_num_threads(ctx.threads());
    const quant::FakeQuantPlan plan = quant::load_plan(cell.dir());
    const auto tokenizer = text::WordPieceTokenizer::from_directory(cell.dir());
    const auto data = task.features("eval", tokenizer, p.get_int("max_seq_length"));
    std::ifstream in(cell.dir() / "metrics.json");
    const Json metrics = Json::parse(in, nullptr, false);
    if (metrics.is_discarded() || !metrics.contains("ptq") || !metrics["ptq"].contains("sensitivity_order"))
      throw Error((cell.dir() / "metrics.json").string() + ": no ptq.sensitivity_order (fallback needs a ptq cell)");
    const std::vector<std::string> order = metrics["ptq"]["sensitivity_order"].get<std::vector<std::string>>();
    const std::int64_t limit = std::min<std::int64_t>(
        static_cast<std::int64_t>(order.size()),
        p.get_int("fallback_max_sites") > 0 ? p.get_int("fallback_max_sites") : static_cast<std::int64_t>(order.size()));
    std::vector<std::string> fp32_sites;
    Json steps = Json::array();
    quant::FakeQuantPlan current = plan;
    const std::int64_t batch = p.get_int("per_device_eval_batch_size");
    final_metrics = task.evaluate(*model.model, *data, batch, quant::make_fake_quant_hook(current));
    ctx.progress().begin("fallback", limit);
    for (std::int64_t k = 0; k < limit; ++k) {
      fp32_sites.push_back(order[k]);
      current = quant::without_sites(plan, fp32_sites);
      final_metrics = task.evaluate(*model.model, *data, batch, quant::make_fake_quant_hook(current));
      steps.push_back({{"fp32_site", order[k]}, {final_metrics.primary, final_metrics.value},
                       {"delta", final_metrics.value - reference}});
      ctx.log().info("fallback: " + order[k] + " -> fp32: " + final_metrics.primary + " " +
                     fixed(final_metrics.value, 2) + " (drop " + fixed(reference - final_metrics.value, 2) + ")");
      ctx.progress().update(k + 1);
      ctx.throw_if_cancelled();
      if (reference - final_metrics.value <= target) break;
    }
    ctx.progress().end();
    const bool met = reference - final_metrics.value <= target;
    if (!met) ctx.log().warn("fallback: drop still " + fixed(reference - final_metrics.value, 2) + " after " +
                             std::to_string(fp32_sites.size()) + " sites in fp32");
    auto& out = ctx.output();
    copy_model_files(cell.dir(), out.dir());
    for (const char* f : {"calibration.json", "quant_weights.safetensors", "model.int8.onnx"}) fs::remove(out.dir() / f);
    quant::save_plan(out.dir(), current, {{"fallback_fp32_sites", fp32_sites}, {"from_cell", cell.id()}});
    if (fs::exists(cell.dir() / "model.int8.onnx"))
      exporter::export_qdq_onnx(*model.model, current, out.dir() / "model.int8.onnx");
    out.manifest()["fallback_fp32_sites"] = fp32_sites;
    out.manifest()["size_bytes_int8"] = quant::quantized_size_bytes(*model.model, current);
    std::ofstream(out.dir() / "metrics.json") << Json{{"primary", final_metrics.primary}, {"eval", final_metrics.all},
                                                     {"fallback_fp32_sites", fp32_sites}, {"from_cell", cell.id()}}
                                                     .dump(2)
                                              << "\n";
    return {{"from_cell", cell.id()}, {"target_drop", target}, {"met", met}, {"fp32_sites", fp32_sites}, {"steps", steps}};
  }
};

Schema schema() {
  using T = ParamType;
  return Schema()
      .param("max_metric_drop", T::Float, nullptr,
             "largest allowed drop of the primary metric against the fp32 model, in metric points; unset: none")
      .param("fallback_until_drop_below", T::Float, nullptr,
             "INT8 best cell: return its most sensitive sites to fp32, one at a time, until the drop is at most this; "
             "unset: no fallback")
      .param("fallback_max_sites", T::Int, 0, "at most this many sites go back to fp32; 0 = no limit")
      .param("per_device_eval_batch_size", T::Int, 32, "evaluation batch size (fallback)")
      .param("max_seq_length", T::Int, 0, "tokenized sequence length; 0 = the task's max_seq_length");
}

}  // namespace

SLIMPIPE_PLUGIN(Rank, "strategy", "rank",
                "1.0.0", "rank every candidate (metric, drop vs fp32, size), keep the best, optional INT8 layer fallback",
                schema)
