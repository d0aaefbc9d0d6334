// Activation observers: one per quantized activation operand, fed batch by batch, then asked for a per-tensor
// symmetric clip threshold T. Algorithms spelled as PaddleNLP spells them; paddle_compat reproduces Paddle.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "slimpipe/export.hpp"

namespace slimpipe::quant {

// Options for make_observer. Unset optionals take the algorithm's default; setting one the algorithm does not
// use is an error (caught up front by validate_observer_options, not after an hour of calibration).
struct SLIMPIPE_API ObserverOptions {
  std::optional<double> hist_percent;  // "hist": fraction of |x| kept, default 0.9999 (PaddleNLP), (0, 1]
  std::optional<double> percentile;    // "percentile": percent of |x| kept, default 99.99 (TensorRT), (0, 100]
  // Histogram bins. hist/KL/percentile: 2048. mse/emd in the default mode (signed histogram): 16384.
  // Not accepted for mse/emd with paddle_compat (Paddle searches on each raw batch).
  std::optional<std::int64_t> bins;
  bool paddle_compat = false;  // reproduce PaddleSlim's thresholds, quirks included (docs/quantization.md)
  bool onnx_format = true;     // qdq range used by mse/emd: [-128, 127] (true) or Paddle legacy (false)
  int bits = 8;                // Paddle asserts activation_bits == weight_bits; 2..16
};

// The algorithms make_observer knows, in PaddleNLP's spelling.
SLIMPIPE_API const std::vector<std::string>& observer_algos();
// Throws Error with a one-line message for an unknown algo or an option the algo does not take.
SLIMPIPE_API void validate_observer_options(const std::string& algo, const ObserverOptions& options);

class SLIMPIPE_API ActivationObserver {
 public:
  virtual ~ActivationObserver();

  // One calibration batch (any float dtype/device; read as float32 on the CPU). Empty tensors are skipped,
  // as new Paddle does.
  void observe(const at::Tensor& batch);
  // How many times the calibration data must be fed: 2 for paddle_compat hist/KL (pass 1 fixes the histogram
  // range from min/max |x|, pass 2 fills it), else 1. Call finish_pass() after each pass but the last.
  virtual int passes() const { return 1; }
  virtual void finish_pass();
  // Per-tensor symmetric clip threshold (> 0). Throws Error before any data or before all passes ran.
  virtual double threshold() const = 0;
  // Numbers held as state (histogram bins, running sums): constant in the number of batches by design.
  virtual std::int64_t state_size() const = 0;

  const std::string& algo() const { return algo_; }
  std::int64_t batches() const { return batches_; }  // batches observed in the current pass
  // min(x) / max(x) over every batch (what Paddle's min_max writes as out_min / out_max).
  double min() const { return min_; }
  double max() const { return max_; }

 protected:
  explicit ActivationObserver(std::string algo) : algo_(std::move(algo)) {}
  // x: contiguous float32 CPU, non-empty; max_abs = max|x|.
  virtual void accumulate(const at::Tensor& x, float max_abs) = 0;
  void require_data() const;  // Error when no batch was observed
  int pass_ = 0;

 private:
  std::string algo_;
  std::int64_t batches_ = 0;
  double min_ = 0, max_ = 0;
};

// "abs_max", "min_max", "avg", "mse", "emd", "hist", "KL", "percentile" (see observer_algos()).
SLIMPIPE_API std::unique_ptr<ActivationObserver> make_observer(const std::string& algo,
                                                               const ObserverOptions& options = {});

}  // namespace slimpipe::quant
