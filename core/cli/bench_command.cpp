// `slimpipe bench MODEL...`: latency (p50, p90) at batch 1 and 32 (configurable), throughput, model size and
// peak memory of runtime exports, through the runtime library (no LibTorch). Prints a table; --json writes one.
#include <sys/resource.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "slimpipe/error.hpp"
#include "slimpipe_runtime/bench.hpp"
#include "slimpipe_runtime/runtime.hpp"

namespace po = boost::program_options;

namespace slimpipe::cli {
namespace {

// OpenMP's wait policy as the environment sets it (libgomp reads it once, at load). "default": libgomp spins up to
// GOMP_SPINCOUNT 300000 iterations at joins and between regions, which on shared cores costs far more than the
// work of a small model (docs/runtime.md, "Threading"); OMP_WAIT_POLICY=passive sleeps at once.
std::string wait_policy() {
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  const char* spin = std::getenv("GOMP_SPINCOUNT");
  std::string s = policy ? policy : "default";
  if (spin) s += std::string(", GOMP_SPINCOUNT ") + spin;
  return s;
}

// Resets the kernel's peak-RSS mark (Linux >= 4.0), so each model's peak is its own.
void reset_peak_rss() {
  std::ofstream clear("/proc/self/clear_refs");
  if (clear) clear << "5";
}

std::uint64_t status_kib(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(key) + ":";
  while (std::getline(in, line))
    if (line.rfind(prefix, 0) == 0) return std::stoull(line.substr(prefix.size()));
  return 0;
}

// The runtime export to time for what the user named: an export folder (runtime.json) as is; a folder that
// holds one in runtime/ (a rank or ptq cell folder, a dynabert width); a file inside either (model.int8.onnx,
// runtime.json). Returns the folder (relative where `given` was); throws UsageError naming the path and what
// was expected.
std::filesystem::path runtime_folder(const std::string& given) {
  namespace fs = std::filesystem;
  const fs::path p = fs::path(given).lexically_normal();
  auto is_export = [](const fs::path& d) { return fs::is_regular_file(d / "runtime.json"); };
  if (!fs::exists(p)) throw slimpipe::UsageError("bench: " + given + ": no such file or folder");
  const fs::path dir = fs::is_directory(p) ? p : p.has_parent_path() ? p.parent_path() : fs::path(".");
  if (is_export(dir)) return dir;
  if (is_export(dir / "runtime")) return dir / "runtime";
  throw slimpipe::UsageError("bench: " + given + ": " +
                             (fs::is_directory(p)
                                  ? std::string("no runtime export here")
                                  : "a file, and its folder " + dir.string() + " holds no runtime export") +
                             " (expected a folder with runtime.json, as export-runtime writes it, or one with runtime/ "
                             "inside: a rank, ptq cell or dynabert width folder)");
}

std::string cpu_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

// What `slimpipe bench` read from the command line.
struct BenchArgs {
  std::vector<std::string> models;
  std::vector<std::int64_t> batches;
  std::int64_t seq = 128;
  bool seq_given = false;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int iters = 10, warmup = 1;
  double max_seconds = 30;
  std::string json_path, kernels = "own";
};

// Parses and checks the command line into `a`; an exit status when the command ends here (help, no model).
std::optional<int> parse_bench_args(const std::vector<std::string>& args, BenchArgs& a) {
  po::options_description d("bench options");
  d.add_options()("help,h", "show this help")("model", po::value(&a.models)->composing(),
                                              "runtime export folder, or a folder with runtime/ inside (rank, ptq "
                                              "cell, dynabert width), or a file in either (repeatable)")(
      "batch", po::value(&a.batches)->multitoken(), "batch sizes (default 1 32)")(
      "seq", po::value(&a.seq), "sequence length (default 128, or a model's max_position_embeddings when smaller)")(
      "threads", po::value(&a.threads), "threads for every kernel (default: all cores)")(
      "iters", po::value(&a.iters), "timed runs per batch size (default 10)")("warmup", po::value(&a.warmup),
                                                                              "untimed runs first (default 1)")(
      "max-seconds", po::value(&a.max_seconds),
      "stop timing a batch size after this long, once 3 runs are in (default 30)")(
      "json", po::value(&a.json_path), "also write the results as JSON to this file")(
      "kernels", po::value(&a.kernels), "GEMM kernels: own (default; allocation-free) or onednn (for comparison)");
  po::positional_options_description pos;
  pos.add("model", -1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(d).positional(pos).run(), vm);
  po::notify(vm);
  if (vm.count("help") || a.models.empty()) {
    std::cout
        << "usage: slimpipe bench MODEL... [options]\n\nTimes runtime exports (slimpipe::exporter::export_runtime "
           "folders) on random token ids.\n\n"
        << d;
    return a.models.empty() && !vm.count("help") ? 2 : 0;
  }
  if (a.batches.empty()) a.batches = {1, 32};
  if (a.seq <= 0 || a.iters <= 0 || a.warmup < 0 || a.threads <= 0)
    throw slimpipe::UsageError("bench: --seq, --iters and --threads must be > 0, --warmup >= 0");
  for (auto b : a.batches)
    if (b <= 0) throw slimpipe::UsageError("bench: batch sizes must be > 0, got " + std::to_string(b));
  if (a.kernels != "own" && a.kernels != "onednn")
    throw slimpipe::UsageError("bench: --kernels " + a.kernels + ", expected own or onednn");
  a.seq_given = vm.count("seq") > 0;
  return std::nullopt;
}

// Times the export in `path` (model number `number` in the table): its JSON entry; appends its rows to `table`.
nlohmann::json bench_model(const std::string& path, std::size_t number, const BenchArgs& a,
                           const slimpipe_runtime::Options& load_options, slimpipe_runtime::BenchOptions& options,
                           std::ostringstream& table) {
  // The model's own memory: the process's peak during load and timing, less what it held before (this CLI
  // links LibTorch, whose libraries alone are about 170 MB of resident memory).
  reset_peak_rss();
  const std::uint64_t before = status_kib("VmRSS") * 1024;
  auto model = slimpipe_runtime::Model::load(path, load_options);
  const auto& info = model.info();
  if (a.seq_given && a.seq > info.max_position_embeddings)
    throw std::runtime_error("bench: --seq " + std::to_string(a.seq) + " exceeds " + path +
                             "'s max_position_embeddings " + std::to_string(info.max_position_embeddings));
  options.seq = std::min(a.seq, info.max_position_embeddings);
  nlohmann::json entry = {{"path", std::filesystem::absolute(path).lexically_normal().string()},
                          {"precision", info.precision},
                          {"head", slimpipe_runtime::to_string(info.head)},
                          {"layers", info.num_layers},
                          {"hidden", info.hidden_size},
                          {"heads", info.heads},
                          {"intermediate_sizes", info.intermediate_sizes},
                          {"size_bytes", info.file_bytes},
                          {"int8_linears", info.int8_linears},
                          {"onednn_linears", info.onednn_linears},
                          {"own_linears", info.own_linears},
                          {"kernels", info.kernels},
                          {"int8_attention_layers", info.int8_attention_layers},
                          {"seq", options.seq},
                          {"results", nlohmann::json::array()}};
  for (const auto& r : slimpipe_runtime::benchmark(model, options))
    entry["results"].push_back({{"batch", r.batch},
                                {"runs", r.ms.size()},
                                {"p50_ms", r.p50_ms},
                                {"p90_ms", r.p90_ms},
                                {"seq_per_s", r.seq_per_s}});
  const std::uint64_t peak = status_kib("VmHWM") * 1024;
  const std::uint64_t own = peak > before ? peak - before : 0;
  entry["peak_rss_bytes"] = peak;
  entry["model_peak_bytes"] = own;
  entry["workspace_bytes"] = model.workspace_bytes();
  for (const auto& r : entry["results"]) {
    table << std::left << std::setw(7) << number << std::setw(7) << info.precision << std::right << std::setw(6)
          << options.seq << std::setw(7) << r["batch"].get<std::int64_t>() << std::fixed << std::setprecision(2)
          << std::setw(11) << r["p50_ms"].get<double>() << std::setw(11) << r["p90_ms"].get<double>()
          << std::setprecision(1) << std::setw(11) << r["seq_per_s"].get<double>() << std::setw(11)
          << static_cast<double>(info.file_bytes) / 1e6 << std::setw(11) << static_cast<double>(own) / 1e6 << "\n";
  }
  return entry;
}

void write_bench_json(const std::string& json_path, const nlohmann::json& report) {
  std::ofstream out(json_path);
  if (!out) throw std::runtime_error("bench: cannot open " + json_path + " for writing");
  out << report.dump(2) << "\n";
  if (!out) throw std::runtime_error("bench: writing " + json_path + " failed");
  std::cout << "wrote " << json_path << "\n";
}

}  // namespace

int cmd_bench(const std::vector<std::string>& args) {
  BenchArgs a;
  if (std::optional<int> done = parse_bench_args(args, a)) return *done;
  slimpipe_runtime::Options load_options;
  load_options.kernels = a.kernels == "own" ? slimpipe_runtime::Kernels::Own : slimpipe_runtime::Kernels::OneDnn;
  slimpipe_runtime::set_threads(a.threads);

  nlohmann::json report = {{"cpu", cpu_name()},
                           {"isa", slimpipe_runtime::cpu_isa()},
                           {"threads", a.threads},
                           {"seq", a.seq},
                           {"omp_wait_policy", wait_policy()},
                           {"kernels", a.kernels},
                           {"models", nlohmann::json::array()}};
  std::cout << "cpu " << report["cpu"].get<std::string>() << ", isa " << report["isa"].get<std::string>() << ", "
            << a.threads << " threads, seq " << a.seq
            << (a.seq_given ? "" : " (or a model's max_position_embeddings when smaller)") << ", OpenMP wait policy "
            << report["omp_wait_policy"].get<std::string>() << ", kernels " << a.kernels << "\n";
  // Paths in full, numbered; the table names each model by its number.
  std::vector<std::string> folders;
  for (const std::string& given : a.models) {
    const std::filesystem::path folder = runtime_folder(given);
    folders.push_back(folder.string());
    std::cout << "model " << folders.size() << ": " << std::filesystem::absolute(folder).lexically_normal().string()
              << "\n";
  }
  std::ostringstream table;
  table << std::left << std::setw(7) << "model" << std::setw(7) << "prec" << std::right << std::setw(6) << "seq"
        << std::setw(7) << "batch" << std::setw(11) << "p50 ms" << std::setw(11) << "p90 ms" << std::setw(11) << "seq/s"
        << std::setw(11) << "size MB" << std::setw(11) << "mem MB"
        << "\n";
  slimpipe_runtime::BenchOptions options;
  options.batches = a.batches;
  options.seq = a.seq;
  options.iters = a.iters;
  options.warmup = a.warmup;
  options.max_seconds = a.max_seconds;
  for (std::size_t m = 0; m < folders.size(); ++m)
    report["models"].push_back(bench_model(folders[m], m + 1, a, load_options, options, table));
  std::cout << table.str();
  if (!a.json_path.empty()) write_bench_json(a.json_path, report);
  return 0;
}

}  // namespace slimpipe::cli
