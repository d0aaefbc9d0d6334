// Empirical bias correction (Nagel et al. 2019): fold the expected output error of a quantized Linear,
// E[W x] - E[W^ x^], into its bias, using the mean of the layer's calibration inputs.
#pragma once

#include <ATen/core/Tensor.h>

#include "slimpipe/export.hpp"

namespace slimpipe::quant {

// b' = b + W mu - W^ mu^ with mu the mean float input and mu^ the mean of the inputs the quantized layer
// sees (fake-quantized; undefined: mu, for weight-only quantization). weight/dequantized_weight [out, in],
// bias [out] (undefined: zeros), means [in]. Returns the corrected bias, float32 [out].
SLIMPIPE_API at::Tensor corrected_bias(const at::Tensor& weight, const at::Tensor& dequantized_weight,
                                       const at::Tensor& bias, const at::Tensor& input_mean,
                                       const at::Tensor& quantized_input_mean = {});

}  // namespace slimpipe::quant
