// Streaming histogram of calibration values. Fixed mode mirrors np.histogram's uniform-bin path (float32 edges,
// index estimate then edge correction); growing mode doubles the range so that bins merge exactly in pairs.
#include "slimpipe/quant/calibration_histogram.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "slimpipe/error.hpp"

namespace slimpipe::quant {

namespace {
// Paddle replaces an all-zero range with 1e-8; a growing histogram starting there reaches any real range
// after a few dozen doublings (each O(bins)).
constexpr double kMinRange = 1e-8;
}  // namespace

CalibrationHistogram::CalibrationHistogram(std::int64_t bins, Domain domain, bool growing, double lo, double hi)
    : counts_(static_cast<std::size_t>(bins), 0), domain_(domain), growing_(growing), lo_(lo), hi_(hi) {}

CalibrationHistogram CalibrationHistogram::fixed_abs(std::int64_t bins, double lo, double hi) {
  if (bins < 2) throw Error("histogram bins must be >= 2, got " + std::to_string(bins));
  if (!(hi >= lo)) throw Error("histogram range must satisfy lo <= hi");
  if (hi == lo) lo -= 0.5, hi += 0.5;  // np.histogram widens an empty range by 0.5 each way
  CalibrationHistogram h(bins, Domain::Abs, false, lo, hi);
  // np.linspace: start + i * step in double, the last edge set to stop.
  const double step = (hi - lo) / static_cast<double>(bins);
  h.edges_.resize(static_cast<std::size_t>(bins) + 1);
  for (std::int64_t i = 0; i < bins; ++i) h.edges_[i] = static_cast<double>(i) * step + lo;
  h.edges_[bins] = hi;
  return h;
}

CalibrationHistogram CalibrationHistogram::growing(std::int64_t bins, Domain domain) {
  // Signed bins must stay symmetric around 0 through doublings: 4 | bins keeps merged pairs aligned.
  if (bins < 4 || bins % 4 != 0)
    throw Error("histogram bins must be a multiple of 4 and >= 4, got " + std::to_string(bins));
  return CalibrationHistogram(bins, domain, true, 0.0, 0.0);
}

double CalibrationHistogram::bin_width() const {
  if (!growing_) return static_cast<double>(edges_[1]) - static_cast<double>(edges_[0]);
  return (hi_ - lo_) / static_cast<double>(bins());
}

double CalibrationHistogram::bin_center(std::int64_t i) const {
  return lo_ + (static_cast<double>(i) + 0.5) * (hi_ - lo_) / static_cast<double>(bins());
}

void CalibrationHistogram::add(const at::Tensor& x) {
  at::Tensor v = x.detach().to(at::kCPU, at::kFloat).contiguous();
  if (v.numel() == 0) return;
  if (growing_) {
    add_growing(v.data_ptr<float>(), v.numel(), v.abs().max().item<float>());
  } else {
    add_fixed(v.data_ptr<float>(), v.numel());
  }
}

void CalibrationHistogram::add_fixed(const float* data, std::int64_t n) {
  const std::int64_t bins = this->bins();
  const double norm = static_cast<double>(bins) / (hi_ - lo_);
  for (std::int64_t k = 0; k < n; ++k) {
    // With explicit float64 edges numpy compares the float32 values promoted to double; outside: dropped.
    const double a = std::fabs(static_cast<double>(data[k]));
    if (!(a >= edges_.front() && a <= edges_.back())) continue;
    auto i = static_cast<std::int64_t>((a - lo_) * norm);
    i = std::clamp<std::int64_t>(i, 0, bins - 1);
    // The estimate may be one off at an edge: the bin is the one whose edges enclose a (last bin closed).
    while (i > 0 && a < edges_[i]) --i;
    while (i < bins - 1 && a >= edges_[i + 1]) ++i;
    ++counts_[i];
    ++total_;
  }
}

void CalibrationHistogram::double_range() {
  const std::int64_t bins = this->bins();
  std::vector<std::int64_t> merged(static_cast<std::size_t>(bins), 0);
  // Abs: old [0, hi] lands on new bins [0, bins/2). Signed: old [-hi, hi] lands on [bins/4, 3 bins/4).
  const std::int64_t offset = domain_ == Domain::Abs ? 0 : bins / 4;
  for (std::int64_t j = 0; j < bins / 2; ++j) merged[offset + j] = counts_[2 * j] + counts_[2 * j + 1];
  counts_.swap(merged);
  hi_ *= 2;
  if (domain_ == Domain::Signed) lo_ = -hi_;
}

void CalibrationHistogram::add_growing(const float* data, std::int64_t n, float max_abs) {
  const double m = static_cast<double>(max_abs);
  if (hi_ == 0) {
    hi_ = std::max(m, kMinRange);
    lo_ = domain_ == Domain::Abs ? 0.0 : -hi_;
  }
  while (m > hi_) double_range();
  const std::int64_t bins = this->bins();
  const double scale = static_cast<double>(bins) / (hi_ - lo_);
  std::int64_t* counts = counts_.data();
  if (domain_ == Domain::Abs) {
    for (std::int64_t k = 0; k < n; ++k) {
      auto i = static_cast<std::int64_t>(std::fabs(static_cast<double>(data[k])) * scale);
      ++counts[i < bins ? i : bins - 1];
    }
  } else {
    for (std::int64_t k = 0; k < n; ++k) {
      auto i = static_cast<std::int64_t>((static_cast<double>(data[k]) - lo_) * scale);
      ++counts[std::clamp<std::int64_t>(i, 0, bins - 1)];
    }
  }
  total_ += n;
}

}  // namespace slimpipe::quant
