// Timing runtime packages through the installed slimpipe_runtime (runtime_timing.hpp).
#include "slimpipe/export/runtime_timing.hpp"

#include <algorithm>

#include "slimpipe/error.hpp"
#include "slimpipe_runtime/bench.hpp"
#include "slimpipe_runtime/runtime.hpp"

namespace slimpipe::exporter {

PackageTiming time_runtime_package(const std::filesystem::path& dir, const TimingOptions& options) {
  if (options.threads < 1)
    throw Error(dir.string() + ": timing needs threads >= 1, got " + std::to_string(options.threads));
  try {
    slimpipe_runtime::set_threads(options.threads);
    auto model = slimpipe_runtime::Model::load(dir);
    slimpipe_runtime::BenchOptions o;
    o.batches = options.batches;
    o.seq = options.seq > 0 ? options.seq : std::min<std::int64_t>(128, model.info().max_position_embeddings);
    o.iters = options.iters;
    o.warmup = options.warmup;
    o.max_seconds = options.max_seconds;
    o.seed = options.seed;
    PackageTiming t;
    t.precision = model.info().precision;
    t.seq = o.seq;
    for (auto& point : slimpipe_runtime::benchmark(model, o)) t.ms.push_back(std::move(point.ms));
    return t;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    const std::string what = e.what();  // the runtime's errors name the file they are about
    throw Error(what.find(dir.string()) == std::string::npos ? dir.string() + ": " + what : what);
  }
}

double percentile(std::vector<double> values, double p) { return slimpipe_runtime::percentile(std::move(values), p); }

std::string runtime_cpu_isa() { return slimpipe_runtime::cpu_isa(); }

}  // namespace slimpipe::exporter
