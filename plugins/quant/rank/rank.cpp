// rank strategy (collect = true): every candidate upstream (PTQ cells, pruned widths, ...) in one table with its
// metric, its drop against the fp32 model it came from and its size; the best one under max_metric_drop is
// copied into this node's artifact. Every candidate, and the fp32 model the candidates came from, is timed with
// slimpipe_runtime (the engine behind `slimpipe bench`), so the table shows latency and speedup next to the
// metric, and `objective = "latency"` keeps the fastest candidate within max_metric_drop. With
// fallback_until_drop_below, the best INT8 cell's most sensitive sites go back to fp32 one at a time until the
// drop is small enough (INC / NNCF-style layer fallback).
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <optional>
#include <sstream>
#include <thread>

#include "slimpipe/export/qdq_export.hpp"
#include "slimpipe/export/runtime_export.hpp"
#include "slimpipe/io/checked_file.hpp"
#include "slimpipe/io/checkpoint.hpp"
#include "slimpipe/plugin.hpp"
#include "slimpipe/quant/ptq.hpp"
#include "slimpipe/strategy.hpp"
#include "slimpipe/text/wordpiece_tokenizer.hpp"
#include "slimpipe_runtime/bench.hpp"
#include "slimpipe_runtime/runtime.hpp"

namespace {

using namespace slimpipe;
namespace fs = std::filesystem;

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

bool set(const Params& p, const std::string& key) { return p.has(key) && !p.raw(key).is_null(); }

// Runtime latency of one model: its slimpipe_runtime export (the artifact's runtime/, or one made in the scratch
// folder), timed at every bench batch size.
struct Timing {
  fs::path model_dir;        // the HF folder
  std::string kind;          // "model" (fp32) or "quantized_model"
  fs::path runtime_dir;      // empty until prepared
  bool exported_here = false;
  std::string precision;     // the runtime's "fp32" / "int8"
  std::string note;          // why it was not timed
  std::vector<std::vector<double>> ms;  // per bench batch: every run, over all rounds
  std::vector<double> p50, p90;
  bool timed() const { return !p50.empty(); }
};

struct Candidate {
  const Artifact* artifact = nullptr;
  Timing timing;
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
  c.timing.model_dir = a.dir();
  c.timing.kind = a.kind();
  return c;
}

struct BenchSettings {
  bool enabled = true;
  slimpipe_runtime::BenchOptions options;  // batches, iters, warmup, max_seconds per visit
  std::int64_t seq = 0;                    // 0: min(128, max_position_embeddings) per model
  int rounds = 2;
  int threads = 1;
};

// The furthest fp32 ancestor reachable through the manifests' input_model records (ptq and dynabert write
// them): for a PTQ cell of a pruned width, the unpruned model the width was distilled from.
std::optional<fs::path> auto_baseline(const Artifact& a) {
  std::optional<fs::path> found;
  Json m = a.manifest();
  for (int depth = 0; depth < 16 && m.contains("input_model") && m["input_model"].is_object(); ++depth) {
    const fs::path dir = m["input_model"].value("dir", std::string());
    if (dir.empty() || !fs::exists(dir / "config.json")) break;
    found = dir;
    std::ifstream in(dir / "manifest.json");
    if (!in) break;  // an external model folder: the chain ends there
    m = Json::parse(in, nullptr, false);
    if (m.is_discarded() || m.value("kind", std::string()) != "model") break;
  }
  return found;
}

// Makes (or finds) the runtime export of t. Failures are recorded in t.note, not thrown: a candidate the
// runtime cannot run is still ranked by its metric.
void prepare_runtime(Timing& t, const fs::path& scratch, Task* task, const std::string& device) {
  if (fs::exists(t.model_dir / "runtime" / exporter::kRuntimeJson)) {
    t.runtime_dir = t.model_dir / "runtime";
    return;
  }
  if (!task) {
    t.note = "not timed: no runtime/ export, and without a [task] the model's head is unknown";
    return;
  }
  const fs::path dir = scratch / ("runtime_" + std::to_string(std::hash<std::string>{}(t.model_dir.string())));
  try {
    io::LoadOptions load;
    load.head = task->head().head;
    load.device = device;
    io::LoadedModel model = io::load_model(t.model_dir, load);
    model.model->to(at::kCPU);
    if (t.kind == "quantized_model")
      exporter::export_runtime(*model.model, quant::load_plan(t.model_dir), dir);
    else
      exporter::export_runtime(*model.model, dir);
    t.runtime_dir = dir;
    t.exported_here = true;
  } catch (const std::exception& e) {
    std::error_code ec;
    fs::remove_all(dir, ec);
    t.note = std::string("not timed: ") + e.what();
  }
}

// One visit: load, warm up, time every batch size; the runs are appended to t.ms.
void time_once(Timing& t, const BenchSettings& b) {
  if (t.runtime_dir.empty()) return;
  try {
    auto model = slimpipe_runtime::Model::load(t.runtime_dir);
    t.precision = model.info().precision;
    slimpipe_runtime::BenchOptions o = b.options;
    o.seq = b.seq > 0 ? b.seq : std::min<std::int64_t>(128, model.info().max_position_embeddings);
    const auto points = slimpipe_runtime::benchmark(model, o);
    t.ms.resize(points.size());
    for (std::size_t i = 0; i < points.size(); ++i) t.ms[i].insert(t.ms[i].end(), points[i].ms.begin(), points[i].ms.end());
  } catch (const std::exception& e) {
    t.note = std::string("not timed: ") + e.what();
    t.runtime_dir.clear();
    t.ms.clear();
  }
}

void summarize(Timing& t) {
  t.p50.clear();
  t.p90.clear();
  if (t.runtime_dir.empty()) return;
  for (const auto& runs : t.ms) {
    t.p50.push_back(slimpipe_runtime::percentile(runs, 0.5));
    t.p90.push_back(slimpipe_runtime::percentile(runs, 0.9));
  }
}

// Times every model in rounds, alternating the visiting order, so that a machine that speeds up or slows down
// during the step does not favour the models timed first.
void time_all(const std::vector<Timing*>& all, const BenchSettings& b, Context& ctx) {
  slimpipe_runtime::set_threads(b.threads);
  ctx.progress().begin("bench", static_cast<std::int64_t>(all.size()) * b.rounds);
  std::int64_t done = 0;
  for (int r = 0; r < b.rounds; ++r) {
    for (std::size_t k = 0; k < all.size(); ++k) {
      Timing& t = *all[r % 2 == 0 ? k : all.size() - 1 - k];
      time_once(t, b);
      ctx.progress().update(++done);
      ctx.throw_if_cancelled();
    }
  }
  ctx.progress().end();
  for (Timing* t : all) summarize(*t);
}

// A hard link where the file system allows, else a copy.
void link_or_copy(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::create_hard_link(from, to, ec);
  if (ec) fs::copy_file(from, to, fs::copy_options::overwrite_existing);
}

// Copies a model folder's files into `to`, recursing into runtime/; hard links where the file system allows.
void link_tree(const fs::path& from, const fs::path& to) {
  fs::create_directories(to);
  for (const auto& e : fs::directory_iterator(from)) {
    const fs::path target = to / e.path().filename();
    if (e.is_directory()) {
      link_tree(e.path(), target);
      continue;
    }
    if (e.is_regular_file()) link_or_copy(e.path(), target);
  }
}

// Never publishes a file its manifest does not vouch for: every listed file must exist with its recorded size
// and SHA-1 (a truncated or edited model would otherwise become "the best" through a hard link). Throws Error
// naming the file.
void check_before_publishing(const Artifact& a) {
  const auto problems = a.verify_files(true);
  if (problems.empty()) return;
  std::string all;
  for (const auto& p : problems) all += (all.empty() ? "" : "; ") + (a.dir() / p).string();
  const std::string instance = a.manifest().value("instance", std::string());
  throw Error("rank: will not publish " + a.id() + ": " + all +
              (instance.empty() ? std::string() : " (rebuild it: slimpipe run PIPELINE --force " + instance + ")"));
}

// Copies the files of a finished artifact (hard links where the file system allows) except its manifest,
// with its runtime/ export. The caller checks them first (check_before_publishing).
void copy_model_files(const fs::path& from, const fs::path& to) {
  for (const auto& e : fs::directory_iterator(from)) {
    const std::string name = e.path().filename().string();
    if (e.is_directory() && name == "runtime") {
      link_tree(e.path(), to / name);
      continue;
    }
    if (e.is_regular_file() && name != "manifest.json" && name != "metrics.json") link_or_copy(e.path(), to / name);
  }
}

std::string ms_text(const Timing& t, std::size_t i) { return t.timed() ? fixed(t.p50[i], t.p50[i] < 10 ? 3 : 1) : ""; }

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
    const std::string objective = p.get_string("objective");

    // Runtime latency of every candidate and of the fp32 baseline.
    const BenchSettings bench = bench_settings(ctx, p);
    Timing baseline;
    std::string baseline_label;
    if (bench.enabled) {
      const std::string b = p.get_string("baseline");
      if (b != "none") {
        std::optional<fs::path> dir;
        if (b == "auto") {
          dir = auto_baseline(inputs.front());
        } else {
          for (const auto& c : cands)
            if (c.artifact->id() == b) dir = c.artifact->dir();
          if (!dir) throw Error("rank: baseline '" + b + "' is not one of the candidates (use \"auto\", \"none\" or a candidate id)");
        }
        if (dir) {
          baseline.model_dir = *dir;
          baseline.kind = "model";
          std::ifstream in(*dir / "manifest.json");
          const Json m = in ? Json::parse(in, nullptr, false) : Json();
          baseline_label = m.is_object() && m.contains("id") ? m["id"].get<std::string>() : dir->string();
          if (m.is_object() && m.contains("kind")) baseline.kind = m["kind"].get<std::string>();
        }
      }
      std::vector<Timing*> all;
      const fs::path scratch = ctx.scratch_dir();
      auto prepare = [&](Timing& t) {
        prepare_runtime(t, scratch, ctx.has_task() ? &ctx.task() : nullptr, ctx.device());
        if (!t.note.empty()) ctx.log().warn("rank: " + t.model_dir.string() + ": " + t.note);
        all.push_back(&t);
      };
      for (auto& c : cands) prepare(c.timing);
      const Candidate* same = nullptr;  // the baseline is itself a candidate: time it once
      for (const auto& c : cands)
        if (!baseline.model_dir.empty() && fs::equivalent(c.artifact->dir(), baseline.model_dir)) same = &c;
      if (!baseline.model_dir.empty() && !same) prepare(baseline);
      time_all(all, bench, ctx);
      if (same) baseline = same->timing;
    }
    auto speedup = [&](const Timing& t, std::size_t i) -> std::optional<double> {
      if (!t.timed() || !baseline.timed() || t.p50[i] <= 0) return std::nullopt;
      return baseline.p50[i] / t.p50[i];
    };

    // Best: meets the drop, then the objective (highest metric / lowest latency at the first bench batch size /
    // smallest), then highest metric, then smallest.
    if (objective == "latency" && !bench.enabled)
      throw Error("rank: objective = \"latency\" needs bench = true");
    std::vector<std::size_t> order(cands.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      const Candidate& x = cands[a];
      const Candidate& y = cands[b];
      if (x.meets != y.meets) return x.meets;
      if (objective == "latency") {
        if (x.timing.timed() != y.timing.timed()) return x.timing.timed();
        if (x.timing.timed() && x.timing.p50[0] != y.timing.p50[0]) return x.timing.p50[0] < y.timing.p50[0];
      } else if (objective == "size" && x.size_bytes != y.size_bytes) {
        return x.size_bytes < y.size_bytes;
      }
      if (x.value != y.value) return x.value > y.value;
      return x.size_bytes < y.size_bytes;
    });
    const Candidate& best = cands[order.front()];
    auto& out = ctx.output();
    const std::string primary = best.primary;

    check_before_publishing(*best.artifact);  // before the fallback reads it or its files are linked into out

    // Fallback on the best INT8 cell.
    Json fallback = nullptr;
    Metrics final_metrics;
    bool fell_back = false;
    if (set(p, "fallback_until_drop_below") && best.artifact->kind() == "quantized_model" && best.reference &&
        best.drop() > p.get_float("fallback_until_drop_below")) {
      fallback = fall_back(ctx, *best.artifact, *best.reference, p, final_metrics);
      fell_back = true;
      if (bench.enabled) {
        // The fallback model is a new one: export and time it like the candidates.
        Timing t;
        t.model_dir = out.dir();
        t.kind = "quantized_model";
        prepare_runtime(t, ctx.scratch_dir(), ctx.has_task() ? &ctx.task() : nullptr, ctx.device());
        if (t.exported_here) {
          link_tree(t.runtime_dir, out.dir() / "runtime");
          t.runtime_dir = out.dir() / "runtime";
        }
        time_all({&t}, bench, ctx);
        Json lat = Json::object();
        for (std::size_t i = 0; t.timed() && i < bench.options.batches.size(); ++i) {
          const auto s = speedup(t, i);
          lat["batch_" + std::to_string(bench.options.batches[i])] = {
              {"p50_ms", t.p50[i]}, {"p90_ms", t.p90[i]}, {"speedup", s ? Json(*s) : Json(nullptr)}};
        }
        fallback["latency"] = lat;
        if (!t.note.empty()) fallback["latency_note"] = t.note;
      }
    } else {
      copy_model_files(best.artifact->dir(), out.dir());
      if (bench.enabled && best.timing.exported_here) link_tree(best.timing.runtime_dir, out.dir() / "runtime");
    }

    // The table, in rank order.
    const auto& batches = bench.options.batches;
    std::ostringstream csv;
    csv << "rank,id," << primary << ",reference,delta,size_bytes,meets_max_drop,best";
    std::ostringstream md;
    md << "| rank | candidate | " << primary << " | fp32 | Δ | size MB | meets drop |";
    std::string rule = "|---|---|---|---|---|---|---|";
    if (bench.enabled) {
      for (auto b : batches) {
        csv << ",p50_ms_b" << b << ",p90_ms_b" << b << ",speedup_b" << b;
        md << " p50 ms b" << b << " | speedup b" << b << " |";
        rule += "---|---|";
      }
      csv << ",precision,latency_note";
    }
    csv << "\n";
    md << "\n" << rule << "\n";
    Json rows = Json::array();
    for (std::size_t r = 0; r < order.size(); ++r) {
      const Candidate& c = cands[order[r]];
      const std::string ref = c.reference ? fixed(*c.reference, 2) : "";
      const std::string delta = c.reference ? fixed(c.value - *c.reference, 2) : "";
      csv << r + 1 << "," << c.artifact->id() << "," << fixed(c.value, 4) << "," << ref << "," << delta << ","
          << c.size_bytes << "," << (c.meets ? "yes" : "no") << "," << (r == 0 ? "yes" : "");
      md << "| " << r + 1 << " | " << (r == 0 ? "**" + c.artifact->id() + "**" : c.artifact->id()) << " | "
         << fixed(c.value, 2) << " | " << ref << " | " << delta << " | " << fixed(c.size_bytes / 1e6, 2) << " | "
         << (c.meets ? "yes" : "no") << " |";
      Json row = {{"rank", r + 1}, {"id", c.artifact->id()}, {"dir", c.artifact->dir().string()},
                  {"kind", c.artifact->kind()}, {primary, c.value},
                  {"reference", c.reference ? Json(*c.reference) : Json(nullptr)},
                  {"delta", c.reference ? Json(c.value - *c.reference) : Json(nullptr)},
                  {"size_bytes", c.size_bytes}, {"meets_max_drop", c.meets}};
      if (bench.enabled) {
        Json lat = Json::object();
        for (std::size_t i = 0; i < batches.size(); ++i) {
          const auto s = speedup(c.timing, i);
          csv << "," << (c.timing.timed() ? fixed(c.timing.p50[i], 4) : "") << ","
              << (c.timing.timed() ? fixed(c.timing.p90[i], 4) : "") << "," << (s ? fixed(*s, 3) : "");
          md << " " << ms_text(c.timing, i) << " | " << (s ? fixed(*s, 2) + "×" : "") << " |";
          if (c.timing.timed())
            lat["batch_" + std::to_string(batches[i])] = {{"p50_ms", c.timing.p50[i]}, {"p90_ms", c.timing.p90[i]},
                                                          {"runs", c.timing.ms[i].size()},
                                                          {"speedup", s ? Json(*s) : Json(nullptr)}};
        }
        csv << "," << c.timing.precision << ",\"" << c.timing.note << "\"";
        row["latency"] = lat;
        row["runtime_precision"] = c.timing.precision;
        if (!c.timing.note.empty()) row["latency_note"] = c.timing.note;
      }
      csv << "\n";
      md << "\n";
      rows.push_back(row);
    }
    Json bench_json = nullptr;
    if (bench.enabled) {
      std::ostringstream line;
      line << "\nLatency: slimpipe_runtime (as `slimpipe bench`), " << bench.threads << " thread(s), seq "
           << (bench.seq > 0 ? std::to_string(bench.seq) : std::string("min(128, max_position_embeddings)")) << ", p50 of "
           << bench.rounds << " rounds x up to " << bench.options.iters << " runs, isa " << slimpipe_runtime::cpu_isa()
           << ".";
      Json base = nullptr;
      if (baseline.timed()) {
        line << " Speedup against " << baseline_label << " (" << baseline.precision << "):";
        Json lat = Json::object();
        for (std::size_t i = 0; i < batches.size(); ++i) {
          line << " " << ms_text(baseline, i) << " ms at batch " << batches[i] << (i + 1 < batches.size() ? "," : ".");
          lat["batch_" + std::to_string(batches[i])] = {{"p50_ms", baseline.p50[i]}, {"p90_ms", baseline.p90[i]}};
        }
        base = {{"id", baseline_label}, {"dir", baseline.model_dir.string()}, {"latency", lat}};
      } else if (!baseline.note.empty()) {
        line << " Baseline " << baseline_label << ": " << baseline.note << ".";
      } else {
        line << " No fp32 baseline found (set baseline = \"<candidate id>\").";
      }
      md << line.str() << "\n";
      bench_json = {{"threads", bench.threads}, {"seq", bench.seq > 0 ? Json(bench.seq) : Json(nullptr)},
                    {"batches", batches}, {"rounds", bench.rounds}, {"iters", bench.options.iters},
                    {"isa", slimpipe_runtime::cpu_isa()}, {"baseline", base}};
    }
    // Checked writes: a full disk fails the node with "<file>: write failed: No space left on device".
    write_file_atomic(out.dir() / "ranking.csv", csv.str());
    write_file_atomic(out.dir() / "ranking.md", md.str());
    const Json summary = {{"primary", primary},
                          {"objective", objective},
                          {"max_metric_drop", max_drop_json},
                          {"best", best.artifact->id()},
                          {"best_meets_max_drop", best.meets},
                          {"bench", bench_json},
                          {"candidates", rows},
                          {"fallback", fallback}};
    write_file_atomic(out.dir() / "ranking.json", summary.dump(2) + "\n");

    out.set_kind(best.artifact->kind());
    out.manifest()["primary_metric"] = primary;
    out.manifest()["best"] = best.artifact->id();
    for (const char* key : {"size_bytes_int8", "size_bytes_fp32", "ptq", "width", "paddle_name", "exports", "load", "input_model"})
      if (best.artifact->manifest().contains(key)) out.manifest()[key] = best.artifact->manifest()[key];
    if (fell_back) {
      for (const auto& [name, value] : final_metrics.all.items())
        if (value.is_number()) out.set_metric(name, value.get<double>());
    } else {
      for (const auto& [name, value] : best.artifact->metrics().items())
        if (value.is_number()) out.set_metric(name, value.get<double>());
      for (std::size_t i = 0; bench.enabled && best.timing.timed() && i < batches.size(); ++i) {
        out.set_metric("p50_ms_b" + std::to_string(batches[i]), best.timing.p50[i]);
        if (const auto s = speedup(best.timing, i)) out.set_metric("speedup_b" + std::to_string(batches[i]), *s);
      }
    }
    if (best.reference) out.set_metric("reference_" + primary, *best.reference);
    std::string speed;
    if (const auto s = best.timing.timed() ? speedup(best.timing, 0) : std::nullopt)
      speed = ", " + fixed(*s, 2) + "x the fp32 baseline at batch " + std::to_string(batches[0]);
    ctx.log().info("rank: " + std::to_string(cands.size()) + " candidates; best " + best.artifact->id() + " " + primary +
                   "=" + fixed(best.value, 2) + (best.reference ? " (fp32 " + fixed(*best.reference, 2) + ")" : "") + speed +
                   (best.meets ? "" : "; no candidate meets max_metric_drop") +
                   (fell_back ? "; after fallback " + fixed(final_metrics.value, 2) : ""));
    ctx.log().info("ranking:\n" + md.str());
  }

 private:
  static BenchSettings bench_settings(Context& ctx, const Params& p) {
    BenchSettings b;
    b.enabled = p.get_bool("bench");
    const auto batches = p.get_int_list("bench_batches");
    b.options.batches.assign(batches.begin(), batches.end());
    if (b.enabled && b.options.batches.empty()) throw Error("rank: bench_batches is empty (expected batch sizes such as [1, 32])");
    for (auto x : b.options.batches)
      if (x <= 0) throw Error("rank: bench_batches must be > 0, got " + std::to_string(x));
    b.seq = p.get_int("bench_seq");
    if (b.seq < 0) throw Error("rank: bench_seq must be >= 0 (0 = min(128, max_position_embeddings)), got " + std::to_string(b.seq));
    b.options.iters = static_cast<int>(p.get_int("bench_iters"));
    if (b.options.iters <= 0) throw Error("rank: bench_iters must be > 0, got " + std::to_string(b.options.iters));
    b.options.max_seconds = p.get_float("bench_max_seconds");
    b.rounds = static_cast<int>(p.get_int("bench_rounds"));
    if (b.rounds <= 0) throw Error("rank: bench_rounds must be > 0, got " + std::to_string(b.rounds));
    const std::int64_t threads = p.get_int("bench_threads");
    b.threads = threads > 0 ? static_cast<int>(threads)
                            : (ctx.threads() > 0 ? ctx.threads() : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    return b;
  }

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
    fs::remove_all(out.dir() / "runtime");
    quant::save_plan(out.dir(), current, {{"fallback_fp32_sites", fp32_sites}, {"from_cell", cell.id()}});
    if (fs::exists(cell.dir() / "model.int8.onnx"))
      exporter::export_qdq_onnx(*model.model, current, out.dir() / "model.int8.onnx");
    if (fs::exists(cell.dir() / "runtime")) exporter::export_runtime(*model.model, current, out.dir() / "runtime");
    out.manifest()["fallback_fp32_sites"] = fp32_sites;
    out.manifest()["size_bytes_int8"] = quant::quantized_size_bytes(*model.model, current);
    write_file_atomic(out.dir() / "metrics.json", Json{{"primary", final_metrics.primary}, {"eval", final_metrics.all},
                                                        {"fallback_fp32_sites", fp32_sites}, {"from_cell", cell.id()}}
                                                           .dump(2) +
                                                       "\n");
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
      .param("max_seq_length", T::Int, 0, "tokenized sequence length; 0 = the task's max_seq_length")
      .param("objective", T::String, "metric",
             "among candidates within max_metric_drop keep the highest metric, the lowest latency (first bench batch "
             "size) or the smallest",
             Json::array({"metric", "latency", "size"}))
      .param("bench", T::Bool, true,
             "time every candidate and the fp32 baseline with slimpipe_runtime (as `slimpipe bench`); candidates "
             "without a runtime/ export are exported to scratch first")
      .param("bench_batches", T::IntList, Json::array({1, 32}), "batch sizes timed")
      .param("bench_seq", T::Int, 0, "sequence length timed; 0 = min(128, the model's max_position_embeddings)")
      .param("bench_iters", T::Int, 3, "timed runs per batch size and round")
      .param("bench_rounds", T::Int, 2, "rounds over all models, in alternating order; p50/p90 over every run")
      .param("bench_max_seconds", T::Float, 10.0, "per model, batch size and round: stop after this long once 3 runs are in")
      .param("bench_threads", T::Int, 0, "threads of the timed runs; 0 = the instance's threads_per_instance")
      .param("baseline", T::String, "auto",
             "speedups are against: \"auto\" = the fp32 model the candidates came from (through the manifests' "
             "input_model), a candidate id, or \"none\"");
}

}  // namespace

SLIMPIPE_PLUGIN(Rank, "strategy", "rank",
                "1.1.0", "rank every candidate (metric, drop vs fp32, size, runtime latency), keep the best, optional INT8 layer fallback",
                schema)
