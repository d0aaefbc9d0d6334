// mse and emd: pick T = s * max|x| from a grid of s minimising a quantization loss. Paddle scores each batch on
// its own and keeps the best (batch, s) pair; by default we score every batch at once from a signed histogram.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "observer_kinds.hpp"
#include "slimpipe/quant/calibration_histogram.hpp"
#include "slimpipe/quant/fake_quant.hpp"

namespace slimpipe::quant::detail {
namespace {

enum class Loss { Mse, Emd };

// Paddle: s from 0.30 while s <= 1.0, s += 0.02 in double. Rounding makes the 36th value 1.0000000000000002,
// so 1.0 (plain abs-max) is never tried: 35 candidates, 0.30 .. 0.98.
std::vector<double> paddle_grid() {
  std::vector<double> s;
  for (double v = 0.3; v <= 1.0; v += 0.02) s.push_back(v);
  return s;
}

// Ours: the same step counted in integers, so 1.0 is the last of 36 candidates.
std::vector<double> full_grid() {
  std::vector<double> s;
  for (int k = 0; k <= 35; ++k) s.push_back(0.30 + 0.02 * k);
  return s;
}

// Paddle's per-batch search, float32 numpy arithmetic mirrored with ATen float32 ops.
class PaddleGridSearchObserver final : public ActivationObserver {
 public:
  PaddleGridSearchObserver(Loss loss, const ResolvedOptions& o)
      : ActivationObserver(loss == Loss::Mse ? "mse" : "emd"),
        loss_(loss),
        onnx_format_(o.onnx_format),
        bits_(o.bits) {}
  double threshold() const override {
    require_data();
    return best_threshold_;
  }
  std::int64_t state_size() const override { return 2; }

 private:
  void accumulate(const at::Tensor& x, float max_abs) override {
    at::Tensor v = x.flatten();
    double a = static_cast<double>(max_abs);
    if (a == 0) a = kMinThreshold;
    const double b = static_cast<double>(quant_max(bits_));
    for (double s : paddle_grid()) {
      const double t = s * a;
      at::Tensor qdq = onnx_format_ ? at::clamp(at::round(v / t * b), -b - 1, b) / b * t
                                    // legacy: clip(x, 0, T) zeroes negatives (a Paddle bug kept for compat)
                                    : at::round(at::clamp(v, 0.0, t) / t * b) / b * t;
      double loss;
      if (loss_ == Loss::Mse) {
        loss = (v - qdq).pow(2).mean().item<float>();
      } else {
        loss = std::fabs(v.mean().item<float>() - qdq.mean().item<float>()) +
               std::fabs(v.std(false).item<float>() - qdq.std(false).item<float>());
      }
      if (loss <= best_loss_) {  // <=: ties go to the later candidate / batch, as in Paddle
        best_loss_ = loss;
        best_threshold_ = t;
      }
    }
  }
  Loss loss_;
  bool onnx_format_;
  int bits_;
  double best_loss_ = std::numeric_limits<double>::infinity();
  double best_threshold_ = 0;
};

// Streams x into a signed histogram over [-hi, hi] and scores each candidate on all of it: the loss of the
// whole calibration set rather than of its luckiest batch, in O(bins) memory. Bin centres stand for their
// values; with 16384 bins a bin is <= 1/10 of a quantization step at the smallest candidate (0.3 max|x|).
class HistogramGridSearchObserver final : public ActivationObserver {
 public:
  HistogramGridSearchObserver(Loss loss, const ResolvedOptions& o)
      : ActivationObserver(loss == Loss::Mse ? "mse" : "emd"),
        loss_(loss),
        options_{o.bits, o.onnx_format},
        histogram_(CalibrationHistogram::growing(o.bins, CalibrationHistogram::Domain::Signed)) {}

  double threshold() const override {
    require_data();
    const double a = std::max({-min(), max(), kMinThreshold});
    const double b = static_cast<double>(quant_max(options_.bits));
    const auto& counts = histogram_.counts();
    const double n = static_cast<double>(histogram_.total());
    // Moments of x from the same centres, so that centre rounding cancels in the EMD differences.
    double mean_x = 0, sq_x = 0;
    for (std::size_t i = 0; i < counts.size(); ++i) {
      if (counts[i] == 0) continue;
      const double c = histogram_.bin_center(static_cast<std::int64_t>(i));
      mean_x += counts[i] * c;
      sq_x += counts[i] * c * c;
    }
    mean_x /= n;
    const double std_x = std::sqrt(std::max(0.0, sq_x / n - mean_x * mean_x));
    double best_loss = std::numeric_limits<double>::infinity(), best_t = a;
    for (double s : full_grid()) {
      const double t = s * a;
      double err = 0, mean_q = 0, sq_q = 0;
      for (std::size_t i = 0; i < counts.size(); ++i) {
        if (counts[i] == 0) continue;
        const double c = histogram_.bin_center(static_cast<std::int64_t>(i));
        const double level = options_.onnx_format ? std::clamp(std::nearbyint(c / t * b), -b - 1, b)
                                                  : std::nearbyint(std::clamp(c, -t, t) / t * b);
        const double q = level / b * t;
        err += counts[i] * (q - c) * (q - c);
        mean_q += counts[i] * q;
        sq_q += counts[i] * q * q;
      }
      mean_q /= n;
      double loss;
      if (loss_ == Loss::Mse) {
        loss = err / n;
      } else {
        loss = std::fabs(mean_x - mean_q) + std::fabs(std_x - std::sqrt(std::max(0.0, sq_q / n - mean_q * mean_q)));
      }
      if (loss <= best_loss) best_loss = loss, best_t = t;
    }
    return best_t;
  }
  std::int64_t state_size() const override { return histogram_.bins(); }

 private:
  void accumulate(const at::Tensor& x, float) override { histogram_.add(x); }
  Loss loss_;
  FakeQuantOptions options_;
  CalibrationHistogram histogram_;
};

}  // namespace

std::unique_ptr<ActivationObserver> make_grid_search_observer(const std::string& algo, const ResolvedOptions& options) {
  const Loss loss = algo == "mse" ? Loss::Mse : Loss::Emd;
  if (options.paddle_compat) return std::make_unique<PaddleGridSearchObserver>(loss, options);
  return std::make_unique<HistogramGridSearchObserver>(loss, options);
}

}  // namespace slimpipe::quant::detail
