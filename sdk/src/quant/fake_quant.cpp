// Quantize-dequantize with a clip threshold, in float32 and in the operation order of Paddle's numpy code
// (x / T * B, then round), so thresholds searched with it match Paddle's to the last bit on ties.
#include "slimpipe/quant/fake_quant.hpp"

#include <ATen/ATen.h>

#include <string>

#include "slimpipe/error.hpp"

namespace slimpipe::quant {

std::int64_t quant_max(int bits) {
  if (bits < 2 || bits > 16) throw Error("quantization bits must be in 2..16, got " + std::to_string(bits));
  return (std::int64_t{1} << (bits - 1)) - 1;
}

namespace {
double safe(double threshold) { return threshold > 0 ? threshold : kMinThreshold; }
}  // namespace

at::Tensor quantize_levels(const at::Tensor& x, double threshold, const FakeQuantOptions& options) {
  const double b = static_cast<double>(quant_max(options.bits));
  const double t = safe(threshold);
  if (options.onnx_format) return at::clamp(at::round(x / t * b), -b - 1, b);
  return at::round(at::clamp(x, -t, t) / t * b);
}

at::Tensor fake_quantize(const at::Tensor& x, double threshold, const FakeQuantOptions& options) {
  const double b = static_cast<double>(quant_max(options.bits));
  return quantize_levels(x, threshold, options) / b * safe(threshold);
}

at::Tensor fake_quantize_per_channel(const at::Tensor& x, const at::Tensor& thresholds, std::int64_t axis,
                                     const FakeQuantOptions& options) {
  const double b = static_cast<double>(quant_max(options.bits));
  const std::int64_t dim = axis < 0 ? axis + x.dim() : axis;
  if (dim < 0 || dim >= x.dim() || thresholds.numel() != x.size(dim))
    throw Error("per-channel thresholds: " + std::to_string(thresholds.numel()) + " values for axis " +
                std::to_string(axis) + " of a " + std::to_string(x.dim()) + "-d tensor");
  std::vector<std::int64_t> shape(x.dim(), 1);
  shape[dim] = x.size(dim);
  at::Tensor t = thresholds.to(x.scalar_type()).clamp_min(kMinThreshold).reshape(shape);
  at::Tensor levels =
      options.onnx_format ? at::clamp(at::round(x / t * b), -b - 1, b) : at::round(at::max(at::min(x, t), -t) / t * b);
  return levels / b * t;
}

}  // namespace slimpipe::quant
