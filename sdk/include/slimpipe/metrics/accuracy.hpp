// Classification accuracy, accumulated over batches (paddle.metric.Accuracy with top-1).
// The value is in [0, 1]; an empty count gives 0 rather than NaN.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "slimpipe/export.hpp"

namespace slimpipe::metrics {

class SLIMPIPE_API Accuracy {
 public:
  void add(std::int64_t prediction, std::int64_t label) {
    correct_ += prediction == label;
    ++total_;
  }
  // Throws Error when the sizes differ.
  void add(const std::vector<std::int64_t>& predictions, const std::vector<std::int64_t>& labels);
  std::size_t correct() const { return correct_; }
  std::size_t total() const { return total_; }
  double value() const { return total_ ? static_cast<double>(correct_) / static_cast<double>(total_) : 0.0; }

 private:
  std::size_t correct_ = 0;
  std::size_t total_ = 0;
};

SLIMPIPE_API double accuracy(const std::vector<std::int64_t>& predictions, const std::vector<std::int64_t>& labels);

}  // namespace slimpipe::metrics
