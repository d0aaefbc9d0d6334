// abs_max, min_max and avg: thresholds from running maxima. Two numbers of state each, whatever the batches.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "observer_kinds.hpp"
#include "slimpipe/quant/fake_quant.hpp"

namespace slimpipe::quant::detail {
namespace {

class AbsMaxObserver final : public ActivationObserver {
 public:
  AbsMaxObserver() : ActivationObserver("abs_max") {}
  double threshold() const override {
    require_data();
    return std::max(abs_max_, kMinThreshold);
  }
  std::int64_t state_size() const override { return 1; }

 private:
  void accumulate(const at::Tensor&, float max_abs) override { abs_max_ = std::max(abs_max_, double{max_abs}); }
  double abs_max_ = 0;
};

// Paddle writes min/max attributes and inserts no QDQ for min_max; a symmetric deployment of those ranges
// clips at max(|min|, |max|), which is what threshold() returns.
class MinMaxObserver final : public ActivationObserver {
 public:
  MinMaxObserver() : ActivationObserver("min_max") {}
  double threshold() const override {
    require_data();
    return std::max({-min(), max(), kMinThreshold});
  }
  std::int64_t state_size() const override { return 2; }

 private:
  void accumulate(const at::Tensor&, float) override {}
};

// Mean over rows (dim 0; [B, S, H] -> per sample) of each row's max|x|. Paddle averages the per-batch means,
// so a short last batch weighs as much as a full one and the result depends on how the data were batched;
// by default we average over every row seen (identical when all batches have the same size).
class AvgObserver final : public ActivationObserver {
 public:
  explicit AvgObserver(bool paddle_compat) : ActivationObserver("avg"), paddle_compat_(paddle_compat) {}
  double threshold() const override {
    require_data();
    const double mean = paddle_compat_ ? sum_ / static_cast<double>(batches()) : sum_ / static_cast<double>(rows_);
    return std::max(mean, kMinThreshold);
  }
  std::int64_t state_size() const override { return 2; }

 private:
  void accumulate(const at::Tensor& x, float) override {
    const std::int64_t rows = x.dim() == 0 ? 1 : x.size(0);
    at::Tensor row_max = x.reshape({rows, -1}).abs().amax(1);
    if (paddle_compat_) {
      sum_ += row_max.mean().item<float>();  // np.mean in float32, then float()
    } else {
      sum_ += row_max.sum(at::kDouble).item<double>();
      rows_ += rows;
    }
  }
  bool paddle_compat_;
  double sum_ = 0;
  std::int64_t rows_ = 0;
};

}  // namespace

std::unique_ptr<ActivationObserver> make_range_observer(const std::string& algo, const ResolvedOptions& options) {
  if (algo == "abs_max") return std::make_unique<AbsMaxObserver>();
  if (algo == "min_max") return std::make_unique<MinMaxObserver>();
  return std::make_unique<AvgObserver>(options.paddle_compat);
}

}  // namespace slimpipe::quant::detail
