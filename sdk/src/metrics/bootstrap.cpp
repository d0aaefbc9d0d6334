// Paired bootstrap over per-example statistics (bootstrap.hpp).
#include "slimpipe/metrics/bootstrap.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "slimpipe/error.hpp"

namespace slimpipe::metrics {

namespace {

std::vector<double> column_sums(const ExampleStats& s) {
  std::vector<double> sums(s.width, 0.0);
  for (std::size_t i = 0; i < s.values.size(); ++i) sums[i % s.width] += s.values[i];
  return sums;
}

}  // namespace

double ExampleStats::value() const {
  if (!metric) throw Error("example statistics: no metric");
  return metric(column_sums(*this), examples());
}

MetricOfSums mean_percent() {
  return [](const std::vector<double>& sums, std::int64_t n) {
    return n > 0 && !sums.empty() ? 100.0 * sums[0] / static_cast<double>(n) : 0.0;
  };
}

MetricOfSums f1_percent_from_counts() {
  return [](const std::vector<double>& sums, std::int64_t) {
    if (sums.size() < 3) return 0.0;
    const double denominator = sums[0] + sums[1];
    return denominator > 0 ? 100.0 * 2.0 * sums[2] / denominator : 0.0;
  };
}

PairedBootstrap paired_bootstrap(const std::vector<const ExampleStats*>& models, int resamples, std::uint64_t seed) {
  if (models.empty()) throw Error("bootstrap: no models");
  const std::int64_t n = models.front()->examples();
  for (const ExampleStats* m : models) {
    if (!m->metric) throw Error("bootstrap: a model's statistics have no metric");
    if (m->examples() != n || m->values.size() != static_cast<std::size_t>(n) * m->width)
      throw Error("bootstrap: models scored different numbers of examples (" + std::to_string(n) + " and " +
                  std::to_string(m->examples()) + "): a paired bootstrap needs the same examples");
  }
  if (n == 0) throw Error("bootstrap: no examples");
  if (resamples < 1) throw Error("bootstrap: resamples must be at least 1, got " + std::to_string(resamples));
  PairedBootstrap out;
  for (const ExampleStats* m : models) out.full.push_back(m->value());
  out.resamples.assign(models.size(), std::vector<double>(static_cast<std::size_t>(resamples)));
  std::mt19937_64 rng(seed);
  std::vector<std::int64_t> counts(static_cast<std::size_t>(n));
  for (int r = 0; r < resamples; ++r) {
    std::fill(counts.begin(), counts.end(), 0);
    for (std::int64_t k = 0; k < n; ++k) ++counts[static_cast<std::size_t>(rng() % static_cast<std::uint64_t>(n))];
    for (std::size_t m = 0; m < models.size(); ++m) {
      const ExampleStats& s = *models[m];
      std::vector<double> sums(s.width, 0.0);
      for (std::int64_t i = 0; i < n; ++i) {
        const double c = static_cast<double>(counts[static_cast<std::size_t>(i)]);
        if (c == 0) continue;
        const double* row = s.values.data() + static_cast<std::size_t>(i) * s.width;
        for (std::size_t j = 0; j < s.width; ++j) sums[j] += c * row[j];
      }
      out.resamples[m][static_cast<std::size_t>(r)] = s.metric(sums, n);
    }
  }
  return out;
}

double quantile(std::vector<double> values, double q) {
  if (values.empty()) throw Error("quantile of no values");
  std::sort(values.begin(), values.end());
  const double pos = std::clamp(q, 0.0, 1.0) * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (pos - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

Interval difference_interval(const PairedBootstrap& bootstrap, std::size_t a, std::size_t b, double confidence) {
  if (a >= bootstrap.resamples.size() || b >= bootstrap.resamples.size()) throw Error("bootstrap: no such model");
  if (!(confidence > 0 && confidence < 1)) throw Error("bootstrap: confidence must be in (0, 1)");
  const auto& x = bootstrap.resamples[a];
  const auto& y = bootstrap.resamples[b];
  std::vector<double> d(x.size());
  for (std::size_t r = 0; r < x.size(); ++r) d[r] = x[r] - y[r];
  const double tail = (1.0 - confidence) / 2.0;
  return {quantile(d, tail), quantile(std::move(d), 1.0 - tail)};
}

}  // namespace slimpipe::metrics
