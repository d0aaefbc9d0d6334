// bench/peers: one run timing the same 12-layer, 768-hidden BERT (random weights, seq_cls) in slimpipe's runtime
// (fp32, int8, DynaBERT-shaped width 0.75 + int8), in ONNX Runtime through node (fp32 model.onnx, and the QDQ
// int8 model when the SDK has the QDQ exporter) and in LibTorch (TorchScript model.pt). Prints one table with
// the CPU's ISA and the thread count, and writes it as Markdown and JSON next to the exports.
// Usage: peers_bench [--threads N] [--seq S] [--iters N] [--max-seconds S] [--layers L] [--hidden H] [--out DIR]
//        [--export-only] (write the exports and stop: inputs for `slimpipe bench`) [--reuse] (time the exports
//        already in --out) [--rounds R] (time every engine R times, in alternating order) [--no-torchscript]
//        [--onednn] (also time the runtime's fp32 and int8 models on its oneDNN kernels, Kernels::OneDnn)
// With several rounds, the table's p50/p90 are over the runs of every round, and the per-round ratios of the
// issue's targets are printed below it, so that the machine's drift (tens of percent between minutes on a
// shared host) shows instead of hiding in one engine's slot.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/script.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "slimpipe/export/onnx_export.hpp"
#include "slimpipe/export/runtime_export.hpp"
#include "slimpipe/export/torchscript_export.hpp"
#include "slimpipe/nn/prune.hpp"
#include "slimpipe/nn/task_model.hpp"
#include "slimpipe/quant/fake_quant_hook.hpp"
#include "slimpipe/quant/site_calibration.hpp"
#include "slimpipe/quant/weight_quant.hpp"
#include "slimpipe_runtime/bench.hpp"
#include "slimpipe_runtime/runtime.hpp"
#if __has_include("slimpipe/export/qdq_export.hpp")
#include "slimpipe/export/qdq_export.hpp"
#define SLIMPIPE_PEERS_HAVE_QDQ 1
#else
#define SLIMPIPE_PEERS_HAVE_QDQ 0
#endif

namespace fs = std::filesystem;
using namespace slimpipe;

namespace {

struct Settings {
  int threads = 2;
  std::int64_t seq = 128;
  int iters = 10;
  double max_seconds = 40;
  std::int64_t layers = 12, hidden = 768;
  std::vector<std::int64_t> batches{1, 32};
  bool export_only = false;
  bool reuse = false;
  bool torchscript = true;
  bool onednn = false;
  int rounds = 1;
  fs::path out = "bench_peers_out";
};

struct Row {
  std::string engine, model;
  std::uint64_t size_bytes = 0;
  std::map<std::int64_t, std::vector<double>> runs;  // batch -> ms per run
};

double median(const std::vector<double>& v) { return slimpipe_runtime::percentile(v, 0.5); }
double p90(const std::vector<double>& v) { return slimpipe_runtime::percentile(v, 0.9); }

std::uint64_t dir_bytes(const fs::path& p) {
  if (fs::is_regular_file(p)) return fs::file_size(p);
  std::uint64_t n = 0;
  for (const auto& e : fs::directory_iterator(p))
    if (e.is_regular_file()) n += e.file_size();
  return n;
}

std::vector<std::int64_t> random_ids(std::int64_t n, std::int64_t vocab, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::int64_t> d(1, vocab - 1);
  std::vector<std::int64_t> ids(static_cast<std::size_t>(n));
  for (auto& id : ids) id = d(rng);
  return ids;
}

template <class F>
std::vector<double> time_runs(const Settings& s, F&& run) {
  run();  // warm-up
  std::vector<double> ms;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < s.iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    if (ms.size() >= 3 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > s.max_seconds)
      break;
  }
  return ms;
}

Row time_runtime(const Settings& s, const std::string& name, const fs::path& dir, std::int64_t vocab,
                 slimpipe_runtime::Kernels kernels = slimpipe_runtime::Kernels::Own) {
  const bool onednn = kernels == slimpipe_runtime::Kernels::OneDnn;
  Row row{onednn ? "slimpipe runtime, oneDNN kernels" : "slimpipe runtime", name, dir_bytes(dir), {}};
  slimpipe_runtime::Options options;
  options.kernels = kernels;
  auto model = slimpipe_runtime::Model::load(dir, options);
  for (auto b : s.batches) {
    const auto ids = random_ids(b * s.seq, vocab, 7);
    const std::vector<std::int64_t> types(ids.size(), 0), mask(ids.size(), 1);
    row.runs[b] = time_runs(s, [&] { model.run(ids, types, mask, b, s.seq); });
    std::cout << "  runtime " << (onednn ? "(oneDNN) " : "") << name << " batch " << b << ": p50 "
              << median(row.runs[b]) << " ms\n"
              << std::flush;
  }
  return row;
}

Row time_torchscript(const Settings& s, const fs::path& file, std::int64_t vocab) {
  Row row{"LibTorch TorchScript", "fp32", dir_bytes(file), {}};
  torch::jit::Module m = torch::jit::load(file.string());
  m.eval();
  at::NoGradGuard no_grad;
  for (auto b : s.batches) {
    const auto ids = random_ids(b * s.seq, vocab, 7);
    at::Tensor t_ids = at::tensor(ids, at::kLong).view({b, s.seq});
    at::Tensor types = at::zeros({b, s.seq}, at::kLong), mask = at::ones({b, s.seq}, at::kLong);
    row.runs[b] = time_runs(s, [&] { m.forward({t_ids, types, mask}); });
    std::cout << "  torchscript batch " << b << ": p50 " << median(row.runs[b]) << " ms\n" << std::flush;
  }
  return row;
}

std::string run_command(const std::string& cmd) {
  std::array<char, 4096> buf{};
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("cannot run: " + cmd);
  while (std::fgets(buf.data(), buf.size(), p)) out += buf.data();
  const int rc = ::pclose(p);
  if (rc != 0) throw std::runtime_error("failed (" + std::to_string(rc) + "): " + cmd);
  return out;
}

Row time_ort(const Settings& s, const std::string& name, const fs::path& onnx) {
  Row row{"ONNX Runtime (node)", name, dir_bytes(onnx), {}};
  const fs::path src(SLIMPIPE_SOURCE_DIR);
  std::ostringstream cmd;
  cmd << "node " << (src / "bench" / "peers" / "ort_bench.js") << " "
      << (src / "scripts" / "npm" / "node_modules" / "onnxruntime-node") << " " << onnx << " " << s.threads << " "
      << s.seq << " " << s.iters << " " << s.max_seconds;
  for (auto b : s.batches) cmd << " " << b;
  const nlohmann::json j = nlohmann::json::parse(run_command(cmd.str()));
  for (auto b : s.batches) {
    row.runs[b] = j.at(std::to_string(b)).at("runs").get<std::vector<double>>();
    std::cout << "  ort " << name << " batch " << b << ": p50 " << median(row.runs[b]) << " ms\n" << std::flush;
  }
  return row;
}

quant::FakeQuantPlan calibrate(nn::TaskModelImpl& model, std::int64_t seq, std::int64_t vocab) {
  at::NoGradGuard no_grad;
  quant::CalibrationObservers obs(quant::activation_operands(model), "abs_max");
  for (int i = 0; i < 2; ++i) {
    nn::EncoderInputs in;
    in.input_ids = at::tensor(random_ids(4 * seq, vocab, 100 + i), at::kLong).view({4, seq});
    in.token_type_ids = at::zeros({4, seq}, at::kLong);
    in.attention_mask = at::ones({4, seq}, at::kLong);
    model.forward(in, obs.hook());
  }
  quant::FakeQuantPlan plan;
  plan.activation_thresholds = obs.thresholds();
  for (auto& site : nn::linear_sites(model)) plan.weights[site.name] = quant::quantize_weight(site.module->weight);
  return plan;
}

// The command line into `s`; false (after printing the usage) on an unknown option.
bool parse_args(int argc, char** argv, Settings& s) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--threads")
      s.threads = std::stoi(next());
    else if (a == "--seq")
      s.seq = std::stoll(next());
    else if (a == "--iters")
      s.iters = std::stoi(next());
    else if (a == "--max-seconds")
      s.max_seconds = std::stod(next());
    else if (a == "--layers")
      s.layers = std::stoll(next());
    else if (a == "--hidden")
      s.hidden = std::stoll(next());
    else if (a == "--batch")
      s.batches = {std::stoll(next())};
    else if (a == "--out")
      s.out = next();
    else if (a == "--export-only")
      s.export_only = true;
    else if (a == "--reuse")
      s.reuse = true;
    else if (a == "--no-torchscript")
      s.torchscript = false;
    else if (a == "--onednn")
      s.onednn = true;
    else if (a == "--rounds")
      s.rounds = std::max(1, std::stoi(next()));
    else {
      std::cerr << "usage: peers_bench [--threads N] [--seq S] [--iters N] [--max-seconds S] [--layers L] [--hidden H] "
                   "[--batch B] [--out DIR] [--export-only] [--reuse] [--rounds R] [--no-torchscript] [--onednn]\n";
      return false;
    }
  }
  return true;
}

// Whether --out holds every export the timings read.
bool have_exports(const Settings& s) {
  bool have = true;
  for (const char* f : {"runtime_fp32/runtime.json", "runtime_int8/runtime.json", "runtime_pruned075_int8/runtime.json",
                        "model.onnx", "model.pt", "model.pruned075.onnx"})
    have = have && fs::exists(s.out / f);
  if (SLIMPIPE_PEERS_HAVE_QDQ) have = have && fs::exists(s.out / "model.int8.onnx");
  return have;
}

// The runtime packages (fp32, int8, pruned 0.75 + int8), ONNX models and TorchScript module of `model` in --out.
void build_exports(const Settings& s, nn::TaskModelImpl& model, const nn::EncoderConfig& config, std::int64_t vocab) {
  std::cout << "building exports in " << s.out << " (" << s.layers << " layers, hidden " << s.hidden << ")\n"
            << std::flush;
  exporter::export_runtime(model, s.out / "runtime_fp32");
  exporter::export_onnx(model, s.out / "model.onnx");
  exporter::export_torchscript(model, s.out / "model.pt");
  const quant::FakeQuantPlan plan = calibrate(model, s.seq, vocab);
  exporter::export_runtime(model, plan, s.out / "runtime_int8");
#if SLIMPIPE_PEERS_HAVE_QDQ
  exporter::export_qdq_onnx(model, plan, s.out / "model.int8.onnx");
#endif
  const std::int64_t heads = std::max<std::int64_t>(1, config.num_attention_heads * 3 / 4),
                     inter = config.intermediate_size * 3 / 4;
  nn::TaskModel pruned =
      nn::prune(model, std::vector<std::int64_t>(s.layers, heads), std::vector<std::int64_t>(s.layers, inter));
  pruned->eval();
  exporter::export_onnx(*pruned, s.out / "model.pruned075.onnx");
  exporter::export_runtime(*pruned, calibrate(*pruned, s.seq, vocab), s.out / "runtime_pruned075_int8");
}

// One job per engine and model, each timing its export.
std::vector<std::function<Row()>> timing_jobs(const Settings& s, std::int64_t vocab) {
  std::vector<std::function<Row()>> jobs;
  jobs.push_back([&s, vocab] { return time_runtime(s, "fp32", s.out / "runtime_fp32", vocab); });
  jobs.push_back([&s, vocab] { return time_runtime(s, "int8", s.out / "runtime_int8", vocab); });
  jobs.push_back(
      [&s, vocab] { return time_runtime(s, "pruned 0.75 + int8", s.out / "runtime_pruned075_int8", vocab); });
  jobs.push_back([&s] { return time_ort(s, "fp32", s.out / "model.onnx"); });
#if SLIMPIPE_PEERS_HAVE_QDQ
  jobs.push_back([&s] { return time_ort(s, "QDQ int8", s.out / "model.int8.onnx"); });
#endif
  jobs.push_back([&s] { return time_ort(s, "pruned 0.75 fp32", s.out / "model.pruned075.onnx"); });
  if (s.torchscript) jobs.push_back([&s, vocab] { return time_torchscript(s, s.out / "model.pt", vocab); });
  if (s.onednn) {
    jobs.push_back([&s, vocab] {
      return time_runtime(s, "fp32", s.out / "runtime_fp32", vocab, slimpipe_runtime::Kernels::OneDnn);
    });
    jobs.push_back([&s, vocab] {
      return time_runtime(s, "int8", s.out / "runtime_int8", vocab, slimpipe_runtime::Kernels::OneDnn);
    });
  }
  return jobs;
}

// Rounds in alternating order; runs accumulate per row, and each round's p50 is kept for the ratios.
void run_rounds(const Settings& s, const std::vector<std::function<Row()>>& jobs, std::vector<Row>& rows,
                std::vector<std::vector<std::map<std::int64_t, double>>>& round_p50) {
  rows.assign(jobs.size(), Row{});
  round_p50.assign(jobs.size(), {});
  for (int r = 0; r < s.rounds; ++r) {
    if (s.rounds > 1) std::cout << "round " << r + 1 << " of " << s.rounds << "\n" << std::flush;
    for (std::size_t k = 0; k < jobs.size(); ++k) {
      const std::size_t i = r % 2 == 0 ? k : jobs.size() - 1 - k;
      Row got = jobs[i]();
      std::map<std::int64_t, double> p;
      for (auto& [b, v] : got.runs) {
        p[b] = median(v);
        auto& acc = rows[i].runs[b];
        acc.insert(acc.end(), v.begin(), v.end());
      }
      round_p50[i].push_back(p);
      rows[i].engine = got.engine;
      rows[i].model = got.model;
      rows[i].size_bytes = got.size_bytes;
    }
  }
}

// The table of rows (size, p50, p90, seq/s per batch) into `md` and `j`.
void write_rows(const Settings& s, const std::vector<Row>& rows, std::ostringstream& md, nlohmann::json& j) {
  md << "CPU ISA (oneDNN): " << slimpipe_runtime::cpu_isa() << ", threads: " << s.threads << ", seq " << s.seq << ", "
     << s.layers << " layers, hidden " << s.hidden << "\n\n";
  md << "| engine | model | size MB |";
  for (auto b : s.batches) md << " batch " << b << " p50 ms | batch " << b << " p90 ms | batch " << b << " seq/s |";
  md << "\n|---|---|---:|";
  for (std::size_t i = 0; i < s.batches.size(); ++i) md << "---:|---:|---:|";
  md << "\n";
  j = {{"isa", slimpipe_runtime::cpu_isa()},
       {"threads", s.threads},
       {"seq", s.seq},
       {"layers", s.layers},
       {"hidden", s.hidden},
       {"qdq_export", SLIMPIPE_PEERS_HAVE_QDQ == 1},
       {"rows", nlohmann::json::array()}};
  for (const Row& r : rows) {
    md << "| " << r.engine << " | " << r.model << " | " << std::fixed << std::setprecision(1)
       << static_cast<double>(r.size_bytes) / 1e6 << " |";
    nlohmann::json jr = {{"engine", r.engine}, {"model", r.model}, {"size_bytes", r.size_bytes}};
    for (auto b : s.batches) {
      const auto& v = r.runs.at(b);
      md << std::setprecision(1) << " " << median(v) << " | " << p90(v) << " | "
         << static_cast<double>(b) * 1000.0 / median(v) << " |";
      jr["batch_" + std::to_string(b)] = {{"runs_ms", v}, {"p50_ms", median(v)}, {"p90_ms", p90(v)}};
    }
    md << "\n";
    j["rows"].push_back(jr);
  }
#if !SLIMPIPE_PEERS_HAVE_QDQ
  md << "\n(The SDK of this build has no QDQ exporter: ONNX Runtime int8 was not timed.)\n";
#endif
}

// The targets of the runtime as speedup ratios, per round (same round = minutes apart at most), into `md` and `j`.
void write_ratios(const Settings& s, const std::vector<Row>& rows,
                  const std::vector<std::vector<std::map<std::int64_t, double>>>& round_p50, std::ostringstream& md,
                  nlohmann::json& j) {
  auto find = [&](const std::string& engine, const std::string& model) -> int {
    for (std::size_t i = 0; i < rows.size(); ++i)
      if (rows[i].engine == engine && rows[i].model == model) return static_cast<int>(i);
    return -1;
  };
  const std::string rt = "slimpipe runtime", ort = "ONNX Runtime (node)";
  const int rt32 = find(rt, "fp32"), rt8 = find(rt, "int8"), rtp8 = find(rt, "pruned 0.75 + int8"),
            ort32 = find(ort, "fp32"), ort8 = find(ort, "QDQ int8"), dnn32 = find(rt + ", oneDNN kernels", "fp32"),
            dnn8 = find(rt + ", oneDNN kernels", "int8");
  struct Ratio {
    const char* what;
    int num, den;  // speedup = p50[den] / p50[num]
  };
  const Ratio ratios[] = {{"ORT fp32 / runtime fp32 (target >= 1)", rt32, ort32},
                          {"ORT QDQ int8 / runtime int8 (target >= 1.1)", rt8, ort8},
                          {"runtime fp32 / runtime int8 (target >= 1)", rt8, rt32},
                          {"ORT fp32 / runtime pruned 0.75 + int8 (target >= 1.4)", rtp8, ort32},
                          {"runtime fp32: oneDNN kernels / own kernels", rt32, dnn32},
                          {"runtime int8: oneDNN kernels / own kernels", rt8, dnn8}};
  md << "\nSpeedup ratios, per round" << (s.rounds > 1 ? " (rounds alternate the engine order)" : "")
     << ":\n\n| ratio |";
  for (auto b : s.batches) md << " batch " << b << " |";
  md << "\n|---|";
  for (std::size_t i = 0; i < s.batches.size(); ++i) md << "---|";
  md << "\n";
  j["ratios"] = nlohmann::json::array();
  for (const Ratio& q : ratios) {
    if (q.num < 0 || q.den < 0) continue;
    md << "| " << q.what << " |";
    nlohmann::json jq = {{"ratio", q.what}};
    for (auto b : s.batches) {
      std::vector<double> per;
      for (int r = 0; r < s.rounds; ++r) per.push_back(round_p50[q.den][r].at(b) / round_p50[q.num][r].at(b));
      md << " ";
      for (std::size_t r = 0; r < per.size(); ++r) md << (r ? ", " : "") << std::setprecision(2) << per[r];
      md << " |";
      jq["batch_" + std::to_string(b)] = per;
    }
    md << "\n";
    j["ratios"].push_back(jq);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  if (!parse_args(argc, argv, s)) return 2;
  try {
    at::set_num_threads(s.threads);
    slimpipe_runtime::set_threads(s.threads);
    fs::create_directories(s.out);
    nn::EncoderConfig config;
    config.hidden_size = s.hidden;
    config.num_hidden_layers = s.layers;
    config.num_attention_heads = std::max<std::int64_t>(1, s.hidden / 64);  // head_dim = hidden below 64
    config.intermediate_size = 4 * s.hidden;
    config.num_labels = 2;
    at::manual_seed(0);
    nn::TaskModel model(config, nn::TaskHead::SequenceClassification);
    model->eval();
    const std::int64_t vocab = config.vocab_size;
    const bool have = have_exports(s);
    if (s.reuse && !have)
      throw std::runtime_error("--reuse: " + s.out.string() + " lacks some exports; run without --reuse once");
    if (s.reuse)
      std::cout << "timing the exports in " << s.out << " (--reuse)\n" << std::flush;
    else
      build_exports(s, *model, config, vocab);
    if (s.export_only) {  // the exports only, e.g. for `slimpipe bench`
      std::cout << "wrote the exports in " << s.out << "\n";
      return 0;
    }

    std::vector<Row> rows;
    std::vector<std::vector<std::map<std::int64_t, double>>> round_p50;
    run_rounds(s, timing_jobs(s, vocab), rows, round_p50);
    std::ostringstream md;
    nlohmann::json j;
    write_rows(s, rows, md, j);
    write_ratios(s, rows, round_p50, md, j);
    std::cout << "\n" << md.str();
    std::ofstream(s.out / "peers.md") << md.str();
    std::ofstream(s.out / "peers.json") << j.dump(2) << "\n";
    std::cout << "wrote " << (s.out / "peers.md") << " and peers.json\n";
  } catch (const std::exception& e) {
    std::cerr << "peers_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
