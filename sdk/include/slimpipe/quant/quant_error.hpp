// Per-site quantization error for sensitivity reports: MSE and SQNR of a tensor against its fake-quantized
// version, accumulated over batches.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "slimpipe/export.hpp"

namespace slimpipe::quant {

struct SLIMPIPE_API QuantError {
  double mse = 0;      // mean (x - x^)^2
  double sqnr_db = 0;  // 10 log10(sum x^2 / sum (x - x^)^2); +inf when exact
  std::int64_t count = 0;
};

// Sums in double over batches, so the result is that of the concatenated tensors.
class SLIMPIPE_API QuantErrorMeter {
 public:
  void add(const at::Tensor& reference, const at::Tensor& quantized);
  QuantError result() const;

 private:
  double signal_ = 0, noise_ = 0;
  std::int64_t count_ = 0;
};

SLIMPIPE_API QuantError quant_error(const at::Tensor& reference, const at::Tensor& quantized);

}  // namespace slimpipe::quant
