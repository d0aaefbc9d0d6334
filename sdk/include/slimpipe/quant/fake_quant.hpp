// Symmetric int8 quantize-dequantize of activations and weights with a clip threshold T, as Paddle's
// quantize_linear/dequantize_linear kernels compute it (T is the clip value, not T/127).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "slimpipe/export.hpp"

namespace slimpipe::quant {

struct SLIMPIPE_API FakeQuantOptions {
  int bits = 8;
  // true (PaddleNLP's default, ONNX QDQ): q = clip(round_half_even(x*B/T), -B-1, B), range [-128, 127].
  // false (Paddle's legacy fake ops): x is clipped to [-T, T] first, range [-B, B].
  bool onnx_format = true;
};

// B = 2^(bits-1) - 1 (127 for 8 bit).
SLIMPIPE_API std::int64_t quant_max(int bits);
// Thresholds of 0 would divide by zero; Paddle replaces them with 1e-8 and so do we.
constexpr double kMinThreshold = 1e-8;

// Integer levels of x for threshold T (per tensor): rounded half to even (torch.round == numpy.round ==
// Paddle round_type 0), as float so callers can keep computing; see FakeQuantOptions for the range.
SLIMPIPE_API at::Tensor quantize_levels(const at::Tensor& x, double threshold, const FakeQuantOptions& options = {});
// x -> levels -> levels * T / B.
SLIMPIPE_API at::Tensor fake_quantize(const at::Tensor& x, double threshold, const FakeQuantOptions& options = {});
// Per-channel: `thresholds` has one entry per index of `axis` of x.
SLIMPIPE_API at::Tensor fake_quantize_per_channel(const at::Tensor& x, const at::Tensor& thresholds, std::int64_t axis,
                                                  const FakeQuantOptions& options = {});

}  // namespace slimpipe::quant
