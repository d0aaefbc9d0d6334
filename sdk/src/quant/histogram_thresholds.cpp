// Threshold searches over histogram counts. kl_clip_bin follows Paddle's cal_kl_threshold step by step (same
// spans, same zero handling, same summation order) so that its argmin matches on ties.
#include "slimpipe/quant/histogram_thresholds.hpp"

#include <cmath>
#include <limits>
#include <string>

#include "slimpipe/error.hpp"

namespace slimpipe::quant {

std::int64_t percent_bin(const std::vector<std::int64_t>& counts, double fraction) {
  double total = 0;
  for (std::int64_t c : counts) total += static_cast<double>(c);
  if (total == 0) return -1;
  // Paddle normalises first (hist / sum) and then adds the fractions one by one; so do we, for identical
  // rounding at the crossing bin.
  double cumulative = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    cumulative += static_cast<double>(counts[i]) / total;
    if (cumulative >= fraction) return static_cast<std::int64_t>(i);
  }
  return -1;
}

double kl_divergence_at(const std::vector<std::int64_t>& counts, std::int64_t i, int target_bins) {
  const auto n = static_cast<std::int64_t>(counts.size());
  if (i < target_bins || i > n)
    throw Error("KL candidate " + std::to_string(i) + " outside [" + std::to_string(target_bins) + ", " +
                std::to_string(n) + "]");
  std::int64_t p_sum = 0, outliers = 0;
  for (std::int64_t j = 0; j < n; ++j) p_sum += counts[j];
  for (std::int64_t j = i; j < n; ++j) outliers += counts[j];
  // P: the kept bins with every clipped value folded into the last one.
  std::vector<std::int64_t> p(counts.begin(), counts.begin() + i);
  p[i - 1] += outliers;
  // Q: the kept raw counts (no outliers) merged into target_bins spans of m bins, the last span taking the
  // remainder, then spread evenly over the positions where P is non-zero.
  const std::int64_t m = i / target_bins;
  std::vector<double> q(static_cast<std::size_t>(i), 0.0);
  for (int k = 0; k < target_bins; ++k) {
    const std::int64_t begin = k * m, end = k == target_bins - 1 ? i : (k + 1) * m;
    std::int64_t merged = 0, nonzero = 0;
    for (std::int64_t j = begin; j < end; ++j) {
      merged += counts[j];
      nonzero += p[j] != 0;
    }
    if (nonzero == 0) continue;
    const double share = static_cast<double>(merged) / static_cast<double>(nonzero);
    for (std::int64_t j = begin; j < end; ++j) q[j] = p[j] == 0 ? 0.0 : share;
  }
  double q_sum = 0;
  for (double v : q) q_sum += v;
  // Paddle's safe_entropy: sum p ln(Q_sum p) - sum p ln(P_sum q), over P_sum.
  double sum1 = 0, sum2 = 0;
  for (std::int64_t j = 0; j < i; ++j) {
    if (p[j] == 0) continue;
    const double pj = static_cast<double>(p[j]);
    sum1 += pj * std::log(q_sum * pj);
    sum2 += pj * std::log(static_cast<double>(p_sum) * q[j]);
  }
  return (sum1 - sum2) / static_cast<double>(p_sum);
}

std::int64_t kl_clip_bin(const std::vector<std::int64_t>& counts, const KlSearch& search) {
  const auto n = static_cast<std::int64_t>(counts.size());
  std::int64_t first = search.first < 0 ? (n - 1) / 2 : search.first;
  if (first < search.target_bins) first = search.target_bins;
  if (first > n) throw Error("KL search needs more than " + std::to_string(first) + " bins, got " + std::to_string(n));
  const std::int64_t last = search.include_last ? n : n - 1;
  double best = std::numeric_limits<double>::infinity();
  std::int64_t best_i = 0;
  bool found = false;
  for (std::int64_t i = first; i <= last; ++i) {
    if (counts[i - 1] == 0) continue;  // clipping inside an empty bin is never a candidate
    const double kl = kl_divergence_at(counts, i, search.target_bins);
    if (!found || kl < best) {  // strictly smaller: the first minimum wins
      best = kl;
      best_i = i;
      found = true;
    }
  }
  if (found) return best_i;
  // No candidate (all mass below `first`): Paddle walks down from the start to the last non-empty bin.
  std::int64_t j = std::min(first, n - 1);
  while (j > 0 && counts[j] == 0) --j;
  return j;
}

}  // namespace slimpipe::quant
