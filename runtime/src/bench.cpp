// slimpipe_runtime::benchmark (bench.hpp).
#include "slimpipe_runtime/bench.hpp"

#include <algorithm>
#include <chrono>
#include <random>
#include <string>

namespace slimpipe_runtime {

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double pos = std::clamp(p, 0.0, 1.0) * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<std::size_t>(pos);
  const std::size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (values[hi] - values[lo]) * (pos - static_cast<double>(lo));
}

std::vector<BenchPoint> benchmark(Model& model, const BenchOptions& options) {
  const ModelInfo& info = model.info();
  if (options.iters <= 0) throw Error("benchmark: iters must be > 0, got " + std::to_string(options.iters));
  if (options.warmup < 0) throw Error("benchmark: warmup must be >= 0, got " + std::to_string(options.warmup));
  if (options.seq <= 0 || options.seq > info.max_position_embeddings)
    throw Error("benchmark: seq " + std::to_string(options.seq) + " outside 1.." +
                std::to_string(info.max_position_embeddings) + " (the model's max_position_embeddings)");
  for (auto b : options.batches)
    if (b <= 0) throw Error("benchmark: batch sizes must be > 0, got " + std::to_string(b));
  std::mt19937_64 rng(options.seed);
  std::uniform_int_distribution<std::int64_t> token(1, std::max<std::int64_t>(1, info.vocab_size - 1));
  std::vector<BenchPoint> points;
  for (const std::int64_t b : options.batches) {
    std::vector<std::int64_t> ids(static_cast<std::size_t>(b * options.seq)), types(ids.size(), 0), mask(ids.size(), 1);
    for (auto& id : ids) id = token(rng);
    for (int i = 0; i < options.warmup; ++i) model.run(ids, types, mask, b, options.seq);
    BenchPoint point;
    point.batch = b;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < options.iters; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      model.run(ids, types, mask, b, options.seq);
      const auto t1 = std::chrono::steady_clock::now();
      point.ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      if (point.ms.size() >= 3 && std::chrono::duration<double>(t1 - start).count() > options.max_seconds) break;
    }
    point.p50_ms = percentile(point.ms, 0.5);
    point.p90_ms = percentile(point.ms, 0.9);
    point.seq_per_s = point.p50_ms > 0 ? static_cast<double>(b) * 1000.0 / point.p50_ms : 0;
    points.push_back(std::move(point));
  }
  return points;
}

}  // namespace slimpipe_runtime
