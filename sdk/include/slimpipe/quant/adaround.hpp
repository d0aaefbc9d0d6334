// AdaRound (Nagel et al. 2020): learn, per weight, whether to round down or up so that the layer's output on
// calibration inputs is preserved, instead of rounding each weight to nearest.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>

#include "slimpipe/export.hpp"
#include "slimpipe/quant/weight_quant.hpp"

namespace slimpipe::quant {

struct SLIMPIPE_API AdaRoundOptions {
  std::int64_t iterations = 10000;  // the paper's and AIMET's default
  double learning_rate = 1e-3;      // Adam on V
  double reg_weight = 0.01;         // lambda of the rounding regulariser
  double beta_start = 20, beta_end = 2;
  double warmup = 0.2;  // fraction of iterations without the regulariser
  // Set: the loss compares W x with W~ q(x), q = fake quantization with this threshold, so the rounding also
  // absorbs the input quantization error (Paddle's "quantized inputs" variant). Unset: W~ x.
  std::optional<double> input_threshold;
  int bits = 8;
};

struct SLIMPIPE_API AdaRoundResult {
  QuantizedWeight weight;    // hard-rounded levels (h(V) >= 0.5), the given thresholds
  double nearest_loss = 0;   // E||W x - W~ x||^2 with round-to-nearest levels
  double adaround_loss = 0;  // the same with the returned levels
};

// weight [out, in]; inputs [rows, in] (a few thousand rows of the layer's calibration inputs); thresholds as
// weight_thresholds() returns them (per output channel [out] or 0-dim). The bias is not an argument: it cancels
// in W x + b - (W~ x + b). Levels are clipped to [-B, B]. The loss uses the input Gram matrices (in x in), so
// one iteration costs O(out * in^2) whatever the number of rows.
SLIMPIPE_API AdaRoundResult adaround_weight(const at::Tensor& weight, const at::Tensor& inputs,
                                            const at::Tensor& thresholds, const AdaRoundOptions& options = {});

}  // namespace slimpipe::quant
