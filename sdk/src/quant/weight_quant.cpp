// Abs-max weight thresholds and int8 levels (Paddle QuantWeightPass, onnx_format): q = clip(round(W*B/T)).
// nn.Linear stores [out, in], so Paddle's per-output-channel axis 1 is our axis 0.
#include "slimpipe/quant/weight_quant.hpp"

#include <ATen/ATen.h>

#include "slimpipe/error.hpp"

namespace slimpipe::quant {

WeightQuantType weight_quant_type_from_string(const std::string& name) {
  if (name == "abs_max") return WeightQuantType::AbsMax;
  if (name == "channel_wise_abs_max") return WeightQuantType::ChannelWiseAbsMax;
  throw Error("unknown weight_quantize_type '" + name + "' (expected 'abs_max' or 'channel_wise_abs_max')");
}

const char* to_string(WeightQuantType type) {
  return type == WeightQuantType::AbsMax ? "abs_max" : "channel_wise_abs_max";
}

at::Tensor QuantizedWeight::dequantize() const {
  const double b = static_cast<double>(quant_max(bits));
  at::Tensor q = levels.to(at::kFloat);
  if (!per_channel()) return q * (thresholds.to(at::kFloat) / b);
  std::vector<std::int64_t> shape(q.dim(), 1);
  shape[axis] = q.size(axis);
  return q * (thresholds.to(at::kFloat).reshape(shape) / b);
}

at::Tensor weight_thresholds(const at::Tensor& weight, WeightQuantType type, std::int64_t axis) {
  at::Tensor w = weight.detach().to(at::kFloat).abs();
  if (type == WeightQuantType::AbsMax) return w.max().clamp_min(kMinThreshold);
  if (axis < 0 || axis >= w.dim())
    throw Error("channel_wise_abs_max: axis " + std::to_string(axis) + " out of range for a " +
                std::to_string(w.dim()) + "-d weight");
  return w.transpose(0, axis).reshape({w.size(axis), -1}).amax(1).clamp_min(kMinThreshold);
}

QuantizedWeight quantize_weight_with(const at::Tensor& weight, const at::Tensor& thresholds, std::int64_t axis,
                                     const FakeQuantOptions& options) {
  const double b = static_cast<double>(quant_max(options.bits));
  if (options.bits > 8) throw Error("int8 weight levels need bits <= 8, got " + std::to_string(options.bits));
  at::Tensor w = weight.detach().to(at::kFloat);
  QuantizedWeight q;
  q.bits = options.bits;
  q.thresholds = thresholds.detach().to(at::kFloat).clamp_min(kMinThreshold);
  q.axis = q.thresholds.dim() == 0 ? -1 : axis;
  at::Tensor t = q.thresholds;
  if (q.per_channel()) {
    std::vector<std::int64_t> shape(w.dim(), 1);
    shape[axis] = w.size(axis);
    t = t.reshape(shape);
  }
  // W * B / T in Paddle's order: np.round(W / T * B) (QuantWeightPass quantizes with the same kernel).
  at::Tensor levels =
      options.onnx_format ? at::clamp(at::round(w / t * b), -b - 1, b) : at::round(at::max(at::min(w, t), -t) / t * b);
  q.levels = levels.to(at::kChar);
  return q;
}

QuantizedWeight quantize_weight(const at::Tensor& weight, WeightQuantType type, std::int64_t axis,
                                const FakeQuantOptions& options) {
  return quantize_weight_with(weight, weight_thresholds(weight, type, axis), axis, options);
}

}  // namespace slimpipe::quant
