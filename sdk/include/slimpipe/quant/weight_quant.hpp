// Weight quantization: abs-max thresholds per tensor or per output channel, int8 levels, dequantization.
// Paddle never searches weight thresholds (whatever the activation algo) and neither do we.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "slimpipe/export.hpp"
#include "slimpipe/quant/fake_quant.hpp"

namespace slimpipe::quant {

// Spelled as Paddle's weight_quantize_type: "abs_max", "channel_wise_abs_max".
enum class WeightQuantType { AbsMax, ChannelWiseAbsMax };
SLIMPIPE_API WeightQuantType weight_quant_type_from_string(const std::string& name);  // Error on others
SLIMPIPE_API const char* to_string(WeightQuantType type);

// An int8 weight and its thresholds: W ~= levels * T / B.
struct SLIMPIPE_API QuantizedWeight {
  at::Tensor levels;      // int8, shape of the weight
  at::Tensor thresholds;  // float32: [channels] (per channel) or a 0-dim tensor (per tensor)
  std::int64_t axis = 0;  // channel axis; -1 for per tensor
  int bits = 8;

  bool per_channel() const { return axis >= 0; }
  // Float weight levels * T / B, float32.
  at::Tensor dequantize() const;
};

// max|W| per tensor (0-dim) or per index of `axis` (nn.Linear [out, in]: axis 0 = output features, which is
// Paddle's axis 1 of its [in, out] weights). Zeros become kMinThreshold.
SLIMPIPE_API at::Tensor weight_thresholds(const at::Tensor& weight, WeightQuantType type, std::int64_t axis = 0);
// Levels of W for the given thresholds (as weight_thresholds returns them).
SLIMPIPE_API QuantizedWeight quantize_weight_with(const at::Tensor& weight, const at::Tensor& thresholds,
                                                  std::int64_t axis, const FakeQuantOptions& options = {});
// Round-to-nearest abs-max quantization (Paddle QuantWeightPass with onnx_format).
SLIMPIPE_API QuantizedWeight quantize_weight(const at::Tensor& weight,
                                             WeightQuantType type = WeightQuantType::ChannelWiseAbsMax,
                                             std::int64_t axis = 0, const FakeQuantOptions& options = {});

}  // namespace slimpipe::quant
