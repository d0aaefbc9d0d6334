// Thresholds read off a calibration histogram: Paddle's hist percent, the KL (entropy) search of
// cal_kl_threshold, and the ORT/TensorRT percentile. Pure functions of the counts, so they are testable alone.
#pragma once

#include <cstdint>
#include <vector>

#include "slimpipe/export.hpp"

namespace slimpipe::quant {

// Index of the first bin whose cumulative fraction (summed in double, bin by bin, as Paddle does) reaches
// `fraction`; -1 when rounding never lets it get there (Paddle then returns T = -0.5 w).
SLIMPIPE_API std::int64_t percent_bin(const std::vector<std::int64_t>& counts, double fraction);

// Which candidate clip bins the KL search tries (clip after bin i-1, i.e. keep bins [0, i)).
struct SLIMPIPE_API KlSearch {
  std::int64_t first = -1;    // -1: Paddle's floor((N-1)/2), so T never drops below ~max/2
  bool include_last = false;  // Paddle stops at N-1 and never tries keeping every bin
  int target_bins = 127;      // 2^(bits-1) - 1

  static KlSearch paddle() { return {}; }
  // Ours: from bin 128 (TensorRT's start_bin) up to and including N.
  static KlSearch full() { return {128, true, 127}; }
};

// Paddle's cal_kl_threshold on the counts: returns i* (T = (i* + 0.5) * w in Paddle).
SLIMPIPE_API std::int64_t kl_clip_bin(const std::vector<std::int64_t>& counts, const KlSearch& search = {});
// KL divergence (Paddle's safe_entropy, natural log) of keeping bins [0, i): exposed for tests and reports.
SLIMPIPE_API double kl_divergence_at(const std::vector<std::int64_t>& counts, std::int64_t i, int target_bins = 127);

}  // namespace slimpipe::quant
