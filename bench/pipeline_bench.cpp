// Host overheads: how long planning 10,000 instances takes, and what the executor adds per
// instance (scheduling, temp dir, manifest, hash, rename, journal) around a plugin that does
// nothing. Usage: pipeline_bench [test plugin dir] [instances to execute]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "slimpipe/core/executor.hpp"
#include "slimpipe/core/pipeline_spec.hpp"
#include "slimpipe/core/plan.hpp"

using namespace slimpipe::core;
namespace fs = std::filesystem;

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

std::string grid_pipeline(int a, int b, const std::string& out) {
  std::ostringstream s;
  s << "[pipeline]\nmax_parallel = 2\noutput_dir = \"" << out << "\"\n[model]\npath = \"model\"\n"
    << "[nodes.cell]\ntype = \"sleep_record\"\ninputs = [\"model\"]\n[nodes.cell.matrix]\nx = [";
  for (int i = 0; i < a; ++i) s << (i ? "," : "") << i;
  s << "]\ny = [";
  for (int i = 0; i < b; ++i) s << (i ? "," : "") << i;
  s << "]\n";
  return s.str();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string plugin_dir = argc > 1 ? argv[1] : SLIMPIPE_TEST_PLUGIN_DIR;
  const int exec_n = argc > 2 ? std::atoi(argv[2]) : 2000;
  PluginRegistry reg;
  reg.scan({plugin_dir});
  if (!reg.find("sleep_record")) {
    std::fprintf(stderr, "pipeline_bench: test plugin sleep_record not found in %s\n", plugin_dir.c_str());
    return 1;
  }
  fs::path work = fs::temp_directory_path() / ("slimpipe-bench-" + std::to_string(::getpid()));
  fs::create_directories(work / "model");
  std::ofstream(work / "model" / "config.json") << "{}";

  // Planning: parse + check + expand + DAG, 10,000 instances.
  std::string text = grid_pipeline(100, 100, "out");
  double best_plan = 1e9;
  std::size_t n_plan = 0;
  for (int rep = 0; rep < 3; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    PipelineSpec spec = parse_pipeline(text, work / "p.toml", {}, reg);
    Plan plan = make_plan(spec);
    best_plan = std::min(best_plan, ms_since(t0));
    n_plan = plan.instances.size() - 1;
  }

  // Execution overhead: exec_n instances of a plugin that does nothing, then the same again
  // (all cached).
  int a = 50, b = std::max(1, exec_n / 50);
  PipelineSpec spec = parse_pipeline(grid_pipeline(a, b, "exec"), work / "p.toml", {}, reg);
  Plan plan = make_plan(spec);
  std::size_t n = plan.instances.size() - 1;
  Executor ex(spec, plan);
  RunOptions ro;
  ro.level = slimpipe::LogLevel::Warn;
  auto t0 = std::chrono::steady_clock::now();
  RunSummary s1 = ex.run(ro);
  double run_ms = ms_since(t0);
  t0 = std::chrono::steady_clock::now();
  RunSummary s2 = ex.run(ro);
  double cached_ms = ms_since(t0);

  std::printf("%-44s %12s %14s\n", "measure", "instances", "result");
  std::printf("%-44s %12zu %11.1f ms\n", "plan (parse+check+expand+DAG), best of 3", n_plan, best_plan);
  std::printf("%-44s %12zu %11.3f ms\n", "executor overhead per instance (ran)", n, run_ms / n);
  std::printf("%-44s %12zu %11.3f ms\n", "executor overhead per instance (cached)", n, cached_ms / n);
  std::printf("(ran %d, cached %d on the second run; max_parallel 2; %u hardware threads)\n", s1.ran, s2.cached,
              std::thread::hardware_concurrency());
  fs::remove_all(work);
  bool ok = best_plan < 1000.0 && run_ms / n < 1.0 && s1.ran == static_cast<int>(n) && s2.cached == static_cast<int>(n);
  std::printf("targets: plan 10,000 < 1000 ms, overhead < 1 ms/instance: %s\n", ok ? "met" : "NOT met");
  return 0;
}
