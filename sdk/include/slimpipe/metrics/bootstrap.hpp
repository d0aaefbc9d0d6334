// Per-example statistics of an evaluation and the paired bootstrap over them: confidence intervals of a
// metric difference between models scored on the same examples (rank's noise-aware choice, docs/quantization.md).
// Corpus metrics (chunk F1) are recomputed on every resample from summed per-example counts, not averaged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "slimpipe/export.hpp"

namespace slimpipe::metrics {

// The metric of a multiset of examples from the column sums of their statistics and their number.
using MetricOfSums = std::function<double(const std::vector<double>& sums, std::int64_t examples)>;

// Additive statistics per example: accuracy {correct}, chunk F1 {predicted, gold, correct}, QA {f1}.
struct SLIMPIPE_API ExampleStats {
  std::size_t width = 1;
  std::vector<double> values;  // examples x width, row-major
  MetricOfSums metric;

  std::int64_t examples() const { return width ? static_cast<std::int64_t>(values.size() / width) : 0; }
  // The metric over every example.
  double value() const;
};

// 100 * mean of column 0 (accuracy from {correct}, QA F1 from {f1 in [0, 1]}).
SLIMPIPE_API MetricOfSums mean_percent();
// 100 * 2 * correct / (predicted + gold), columns {predicted, gold, correct} (seqeval's micro F1; 0 when empty).
SLIMPIPE_API MetricOfSums f1_percent_from_counts();

// resamples[m][r]: the metric of model m on resample r. Every resample draws the same example indices for every
// model (a paired bootstrap), so differences between models are resampled with their correlation.
struct SLIMPIPE_API PairedBootstrap {
  std::vector<double> full;                    // per model, on all examples
  std::vector<std::vector<double>> resamples;  // per model, per resample
};

// Throws Error when the models have different example counts or widths, or none.
// Indices are drawn with std::mt19937_64(seed) modulo the example count, so results are the same on every platform.
SLIMPIPE_API PairedBootstrap paired_bootstrap(const std::vector<const ExampleStats*>& models, int resamples,
                                              std::uint64_t seed);

struct SLIMPIPE_API Interval {
  double low = 0, high = 0;
};

// Two-sided percentile interval (linear interpolation between order statistics, numpy's default) of
// metric(a) - metric(b) over the resamples, at `confidence` (e.g. 0.95).
SLIMPIPE_API Interval difference_interval(const PairedBootstrap& bootstrap, std::size_t a, std::size_t b,
                                          double confidence);

// The q-quantile (0..1) of `values` with numpy's linear interpolation; Error when empty.
SLIMPIPE_API double quantile(std::vector<double> values, double q);

}  // namespace slimpipe::metrics
