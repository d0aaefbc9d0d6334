// CalibrationHistogram: streamed counts of calibration values in O(bins) memory, whatever the number of batches.
// Fixed range (Paddle's two-pass layout, np.histogram binning) or a range that doubles when a value exceeds it.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "slimpipe/export.hpp"

namespace slimpipe::quant {

class SLIMPIPE_API CalibrationHistogram {
 public:
  enum class Domain { Abs, Signed };  // counts of |x| on [lo, hi], or of x on [-hi, hi]

  // |x| on [lo, hi], binned exactly as Paddle's KL/hist pass 2 does: np.histogram(abs(x), bins=edges) with the
  // float64 edges of np.histogram([], bins, range=(lo, hi)) (last bin closed, values outside dropped).
  static CalibrationHistogram fixed_abs(std::int64_t bins, double lo, double hi);
  // Range [0, hi] (Abs) or [-hi, hi] (Signed), hi = the first batch's max|x|. When a later value exceeds hi,
  // hi doubles as often as needed and adjacent bins merge pairwise: the counts stay exactly those of a
  // one-shot histogram over the final range, so no value is dropped and nothing is re-estimated.
  static CalibrationHistogram growing(std::int64_t bins, Domain domain = Domain::Abs);

  void add(const at::Tensor& x);  // any float tensor, read as float32 on the CPU

  const std::vector<std::int64_t>& counts() const { return counts_; }
  std::int64_t bins() const { return static_cast<std::int64_t>(counts_.size()); }
  std::int64_t total() const { return total_; }
  Domain domain() const { return domain_; }
  double lo() const { return lo_; }  // -hi for Signed
  double hi() const { return hi_; }
  // Paddle's bin_width = edges[1] - edges[0].
  double bin_width() const;
  double bin_center(std::int64_t i) const;
  bool empty() const { return total_ == 0; }

 private:
  CalibrationHistogram(std::int64_t bins, Domain domain, bool growing, double lo, double hi);
  void add_fixed(const float* data, std::int64_t n);
  void add_growing(const float* data, std::int64_t n, float max_abs);
  void double_range();

  std::vector<std::int64_t> counts_;
  std::vector<double> edges_;  // fixed mode only: np.linspace(lo, hi, bins + 1)
  Domain domain_;
  bool growing_;
  double lo_, hi_;
  std::int64_t total_ = 0;
};

}  // namespace slimpipe::quant
