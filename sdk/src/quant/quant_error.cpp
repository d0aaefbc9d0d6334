// MSE and SQNR between a tensor and its quantized version, accumulated in double across batches.
#include "slimpipe/quant/quant_error.hpp"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "slimpipe/error.hpp"

namespace slimpipe::quant {

void QuantErrorMeter::add(const at::Tensor& reference, const at::Tensor& quantized) {
  if (!reference.sizes().equals(quantized.sizes())) throw Error("quant error: reference and quantized shapes differ");
  at::Tensor r = reference.detach().to(at::kDouble), q = quantized.detach().to(at::kDouble);
  signal_ += r.pow(2).sum().item<double>();
  noise_ += (r - q).pow(2).sum().item<double>();
  count_ += r.numel();
}

QuantError QuantErrorMeter::result() const {
  QuantError e;
  e.count = count_;
  if (count_ == 0) return e;
  e.mse = noise_ / static_cast<double>(count_);
  e.sqnr_db = noise_ == 0 ? std::numeric_limits<double>::infinity() : 10.0 * std::log10(signal_ / noise_);
  return e;
}

QuantError quant_error(const at::Tensor& reference, const at::Tensor& quantized) {
  QuantErrorMeter m;
  m.add(reference, quantized);
  return m.result();
}

}  // namespace slimpipe::quant
