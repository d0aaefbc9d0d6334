// hist, KL and percentile: thresholds read off a histogram of |x|. Default: one streamed pass into a histogram
// whose range doubles as needed. paddle_compat: Paddle's two passes (min/max |x|, then fixed bins on them).
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "observer_kinds.hpp"
#include "slimpipe/error.hpp"
#include "slimpipe/quant/calibration_histogram.hpp"
#include "slimpipe/quant/fake_quant.hpp"
#include "slimpipe/quant/histogram_thresholds.hpp"

namespace slimpipe::quant::detail {
namespace {

enum class Rule { HistPercent, Kl, Percentile };

class HistogramObserver final : public ActivationObserver {
 public:
  HistogramObserver(const std::string& algo, Rule rule, const ResolvedOptions& o)
      : ActivationObserver(algo), rule_(rule), options_(o) {
    if (!o.paddle_compat) histogram_ = CalibrationHistogram::growing(o.bins);
    if (!o.paddle_compat && rule == Rule::Kl) {
      positive_ = CalibrationHistogram::growing(o.bins);
      negative_ = CalibrationHistogram::growing(o.bins);
    }
  }

  int passes() const override { return options_.paddle_compat ? 2 : 1; }

  void finish_pass() override {
    ActivationObserver::finish_pass();
    // Paddle's pass 1 result: bins on [min|x|, max|x|] over all batches.
    histogram_ = CalibrationHistogram::fixed_abs(options_.bins, abs_lo_, abs_hi_);
  }

  double threshold() const override {
    if (pass_ + 1 < passes())
      throw Error("observer '" + algo() +
                  "' with paddle_compat reads the data twice: call finish_pass() after the first pass and observe the "
                  "same batches again");
    require_data();
    const CalibrationHistogram& h = *histogram_;
    const double w = h.bin_width();
    const auto& counts = h.counts();
    double t = 0;
    switch (rule_) {
      case Rule::HistPercent: {
        // Bin centre of the percentile bin; Paddle forgets lo (thresholds are multiples of w), harmless when
        // lo ~ 0 and absent by default where lo = 0. A fraction never reached (rounding at 1.0) takes the
        // last bin instead of Paddle's negative -0.5 w.
        std::int64_t i = percent_bin(counts, options_.hist_percent);
        if (i < 0) i = h.bins() - 1;
        t = (static_cast<double>(i) + 0.5) * w;
        break;
      }
      case Rule::Kl: {
        if (options_.paddle_compat) {
          t = (static_cast<double>(kl_clip_bin(counts, KlSearch::paddle())) + 0.5) * w;
        } else {
          // Clip at the upper edge of the kept bins [0, i) (TensorRT), searching from bin 128 up to all bins, on
          // the histogram of the side that sets the range when the distribution is one-sided.
          const CalibrationHistogram& side = kl_histogram();
          t = static_cast<double>(kl_clip_bin(side.counts(), KlSearch::full())) * side.bin_width();
        }
        break;
      }
      case Rule::Percentile: {
        // ORT / TensorRT: edges[searchsorted(cdf, p / 100)], the lower edge of the bin reaching p.
        std::int64_t i = percent_bin(counts, options_.percentile / 100.0);
        if (i < 0) i = h.bins() - 1;
        t = static_cast<double>(i) * w;
        break;
      }
    }
    return std::max(t, kMinThreshold);
  }

  std::int64_t state_size() const override {
    if (!histogram_) return 2;
    return histogram_->bins() + (positive_ ? positive_->bins() + negative_->bins() : 0);
  }

 private:
  void accumulate(const at::Tensor& x, float max_abs) override {
    if (options_.paddle_compat && pass_ == 0) {
      const double lo = x.abs().min().item<float>();
      abs_lo_ = batches() == 1 ? lo : std::min(abs_lo_, lo);
      abs_hi_ = std::max(batches() == 1 ? 0.0 : abs_hi_, double{max_abs});
      return;
    }
    histogram_->add(x);
    if (positive_) {
      positive_->add(x.masked_select(x >= 0));
      negative_->add(x.masked_select(x < 0));  // counted as |x|
    }
  }

  // The histogram KL searches in the default mode. |x| folds the negative values onto the positive ones; for a
  // one-sided distribution that mixes two different distributions, dominated by the side that does not matter:
  // 80% of a GELU output's values lie in [-0.17, 0] while its positive tail reaches 5, so KL matched the shape of
  // that bulk and clipped the tail (T = 0.59 on a FFN2 input whose max is 4.8). When one side lies wholly inside
  // the smallest candidate clip (bin 128 of the other side's histogram) no candidate clips it, so the search is
  // about the other side alone: KL runs on that side's histogram. Otherwise (both sides reach past it) on |x|.
  const CalibrationHistogram& kl_histogram() const {
    if (!positive_) return *histogram_;
    const double first = static_cast<double>(KlSearch::full().first);
    const double neg_max = -min(), pos_max = max();
    if (positive_->total() > 0 && neg_max <= first * positive_->bin_width()) return *positive_;
    if (negative_->total() > 0 && pos_max <= first * negative_->bin_width()) return *negative_;
    return *histogram_;
  }

  Rule rule_;
  ResolvedOptions options_;
  std::optional<CalibrationHistogram> histogram_;
  std::optional<CalibrationHistogram> positive_, negative_;  // default-mode KL: x >= 0 and |x| of x < 0
  double abs_lo_ = 0, abs_hi_ = 0;
};

}  // namespace

std::unique_ptr<ActivationObserver> make_histogram_observer(const std::string& algo, const ResolvedOptions& options) {
  const Rule rule = algo == "hist" ? Rule::HistPercent : algo == "KL" ? Rule::Kl : Rule::Percentile;
  return std::make_unique<HistogramObserver>(algo, rule, options);
}

}  // namespace slimpipe::quant::detail
