// Empirical bias correction: the quantized layer's mean output error on calibration inputs, folded into b.
#include "slimpipe/quant/bias_correction.hpp"

#include <ATen/ATen.h>

#include "slimpipe/error.hpp"

namespace slimpipe::quant {

at::Tensor corrected_bias(const at::Tensor& weight, const at::Tensor& dequantized_weight, const at::Tensor& bias,
                          const at::Tensor& input_mean, const at::Tensor& quantized_input_mean) {
  if (weight.dim() != 2 || !weight.sizes().equals(dequantized_weight.sizes()) || input_mean.numel() != weight.size(1))
    throw Error(
        "bias correction: weight [out, in], dequantized weight of the same shape and an input mean [in] expected");
  at::Tensor w = weight.detach().to(at::kDouble), wq = dequantized_weight.detach().to(at::kDouble);
  at::Tensor mu = input_mean.detach().to(at::kDouble).reshape({-1});
  at::Tensor mu_q = quantized_input_mean.defined() ? quantized_input_mean.detach().to(at::kDouble).reshape({-1}) : mu;
  // E[W x + b] - E[W^ x^ + b'] = 0  <=>  b' = b + W mu - W^ mu^.
  at::Tensor shift = at::mv(w, mu) - at::mv(wq, mu_q);
  at::Tensor b = bias.defined() ? bias.detach().to(at::kDouble) : at::zeros({weight.size(0)}, at::kDouble);
  return (b + shift).to(at::kFloat);
}

}  // namespace slimpipe::quant
