// QDQ INT8 ONNX export: emitters that put QuantizeLinear/DequantizeLinear around the operands a FakeQuantPlan
// lists and store planned Linear weights as int8, so that ONNX Runtime (or TensorRT) computes what
// quant::make_fake_quant_hook computes: q = saturate(round_half_even(x / s)) to [-128, 127], x' = q * s, s = T/127.
#include "slimpipe/export/qdq_export.hpp"

#include <ATen/ATen.h>

#include <cmath>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "slimpipe/error.hpp"
#include "slimpipe/version.hpp"

namespace slimpipe::exporter {
namespace {

constexpr int kBits = 8;  // int8 QuantizeLinear / DequantizeLinear

std::string shape_text(at::IntArrayRef sizes) {
  std::string out = "[";
  for (std::size_t i = 0; i < sizes.size(); ++i) out += (i ? ", " : "") + std::to_string(sizes[i]);
  return out + "]";
}

std::string operand_text(const quant::SiteOperandKey& key) {
  return "'" + key.site + "' operand " + std::to_string(key.operand);
}

void check_weight(const std::string& site, const quant::QuantizedWeight& w) {
  const std::string what = "QDQ export: plan.weights['" + site + "']: ";
  if (w.bits != kBits)
    throw Error(what + std::to_string(w.bits) +
                "-bit weight; the int8 QDQ export needs bits = " + std::to_string(kBits));
  if (!w.levels.defined() || w.levels.scalar_type() != at::kChar || w.levels.dim() != 2)
    throw Error(what + "expected int8 levels of shape [out, in]" +
                (w.levels.defined() ? std::string(", got a ") + std::to_string(w.levels.dim()) + "-d " +
                                          std::string(c10::toString(w.levels.scalar_type())) + " tensor"
                                    : std::string(", got an undefined tensor")));
  if (!w.thresholds.defined()) throw Error(what + "thresholds are undefined");
  if (w.per_channel()) {
    if (w.axis > 1) throw Error(what + "channel axis " + std::to_string(w.axis) + " (expected 0 or 1 of [out, in])");
    if (w.thresholds.dim() != 1 || w.thresholds.size(0) != w.levels.size(w.axis))
      throw Error(what + "expected " + std::to_string(w.levels.size(w.axis)) + " thresholds (one per index of axis " +
                  std::to_string(w.axis) + "), got shape " + shape_text(w.thresholds.sizes()));
  } else if (w.thresholds.numel() != 1) {
    throw Error(what + "per-tensor weight (axis -1) with " + std::to_string(w.thresholds.numel()) +
                " thresholds (expected 1)");
  }
  if (!at::isfinite(w.thresholds.to(at::kFloat)).all().item<bool>())
    throw Error(what + "thresholds are not all finite");
}

// The plan (tensors are shared, not copied) plus which of its entries the emitters have used, so that
// export_qdq_onnx can refuse entries naming sites the model does not have.
struct QdqState {
  quant::FakeQuantPlan plan;
  std::set<quant::SiteOperandKey> used_activations;
  std::set<std::string> used_weights;

  explicit QdqState(const quant::FakeQuantPlan& p) : plan(p) {
    if (plan.options.bits != kBits)
      throw Error("QDQ export: the plan quantizes activations to " + std::to_string(plan.options.bits) +
                  " bits; int8 QuantizeLinear/DequantizeLinear need bits = 8");
    if (!plan.options.onnx_format)
      throw Error(
          "QDQ export: the plan has onnx_format = false (Paddle's legacy qdq: clip to [-T, T], levels -127..127); "
          "ONNX QuantizeLinear saturates to -128..127, which is onnx_format = true");
    for (const auto& [key, threshold] : plan.activation_thresholds) {
      if (key.operand != nn::kLeftOperand && key.operand != nn::kRightOperand)
        throw Error("QDQ export: plan.activation_thresholds has " + operand_text(key) + " (expected operand 0 or 1)");
      if (!std::isfinite(threshold))
        throw Error("QDQ export: plan.activation_thresholds[" + operand_text(key) + "] is " +
                    std::to_string(threshold) + " (expected a finite threshold)");
    }
    for (const auto& [site, weight] : plan.weights) check_weight(site, weight);
  }

  // The threshold of (site, operand), marked used, or nullptr when the plan leaves the operand in fp32.
  const double* take_threshold(const std::string& site, int operand) {
    auto it = plan.activation_thresholds.find({site, operand});
    if (it == plan.activation_thresholds.end()) return nullptr;
    used_activations.insert(it->first);
    return &it->second;
  }
};

// x -> QuantizeLinear(s, 0) -> DequantizeLinear(s, 0), s = T/127 as the hook's fake_quantize clamps T (> 0).
std::string emit_activation_qdq(OnnxGraphBuilder& g, const std::string& base, const std::string& x, double threshold) {
  const double t = threshold > 0 ? threshold : quant::kMinThreshold;
  const std::string scale = g.add_scalar(base + "_scale", static_cast<float>(t / quant::quant_max(kBits)));
  const std::string zero_point = g.add_initializer(base + "_zero_point", at::zeros({}, at::kChar));
  const std::string q = g.add("QuantizeLinear", {x, scale, zero_point}, base + "_quantize");
  return g.add("DequantizeLinear", {q, scale, zero_point}, base + "_dequantize");
}

// int8 W^T [in, out] -> DequantizeLinear: per-axis on axis 1 (output channels) for channel-wise weights.
std::string emit_weight_dq(OnnxGraphBuilder& g, const std::string& site, const quant::QuantizedWeight& w) {
  const std::string levels = g.add_initializer(site + ".weight_t_int8", w.levels.t().contiguous());
  // The same float32 division as QuantizedWeight::dequantize, so ONNX's levels * scale is bit-identical to it.
  const at::Tensor scales = w.thresholds.to(at::kFloat) / static_cast<double>(quant::quant_max(kBits));
  std::vector<OnnxAttribute> attributes;
  std::string scale, zero_point;
  if (w.per_channel()) {
    scale = g.add_initializer(site + ".weight_scale", scales);
    zero_point = g.add_initializer(site + ".weight_zero_point", at::zeros({scales.numel()}, at::kChar));
    attributes.push_back(OnnxAttribute::integer("axis", 1 - w.axis));  // [out, in] axis a is [in, out] axis 1 - a
  } else {
    scale = g.add_initializer(site + ".weight_scale", scales.reshape({}));
    zero_point = g.add_initializer(site + ".weight_zero_point", at::zeros({}, at::kChar));
  }
  return g.add("DequantizeLinear", {levels, scale, zero_point}, site + ".weight_dequantize", attributes);
}

std::string emit_qdq_linear(QdqState& state, OnnxGraphBuilder& g, const OnnxLinearSite& linear) {
  if (state.plan.activation_thresholds.count({linear.site, nn::kRightOperand}))
    throw Error("QDQ export: plan.activation_thresholds has " + operand_text({linear.site, nn::kRightOperand}) +
                ", the weight of a Linear (expected its int8 levels in plan.weights)");
  std::string x = linear.input;
  if (const double* t = state.take_threshold(linear.site, nn::kLeftOperand))
    x = emit_activation_qdq(g, linear.site + ".input", x, *t);
  auto planned = state.plan.weights.find(linear.site);
  if (planned == state.plan.weights.end()) return emit_linear_fp32(g, {linear.site, x, linear.weight, linear.bias});

  const quant::QuantizedWeight& w = planned->second;
  if (w.levels.sizes() != linear.weight.sizes())
    throw Error("QDQ export: plan.weights['" + linear.site + "'] has shape " + shape_text(w.levels.sizes()) +
                ", the model's weight is " + shape_text(linear.weight.sizes()) + " ([out, in])");
  state.used_weights.insert(linear.site);
  const std::string y = g.add("MatMul", {x, emit_weight_dq(g, linear.site, w)}, linear.site + ".matmul");
  if (!linear.bias.defined()) return y;
  return g.add("Add", {y, g.add_initializer(linear.site + ".bias", linear.bias)}, linear.site + ".add_bias");
}

std::string emit_qdq_matmul(QdqState& state, OnnxGraphBuilder& g, const OnnxMatMulSite& matmul) {
  if (state.plan.weights.count(matmul.site))
    throw Error("QDQ export: plan.weights has '" + matmul.site + "', an attention MatMul, which has no weight");
  OnnxMatMulSite site = matmul;
  if (const double* t = state.take_threshold(matmul.site, nn::kLeftOperand))
    site.left = emit_activation_qdq(g, matmul.site + ".left", matmul.left, *t);
  // "qk": the hook sees K, the graph K^T; a per-tensor quantizer gives the same values either way.
  if (const double* t = state.take_threshold(matmul.site, nn::kRightOperand))
    site.right = emit_activation_qdq(g, matmul.site + ".right", matmul.right, *t);
  return emit_matmul_fp32(g, site);
}

OnnxLinearEmitter linear_emitter(const std::shared_ptr<QdqState>& state) {
  return [state](OnnxGraphBuilder& g, const OnnxLinearSite& linear) { return emit_qdq_linear(*state, g, linear); };
}

OnnxMatMulEmitter matmul_emitter(const std::shared_ptr<QdqState>& state) {
  return [state](OnnxGraphBuilder& g, const OnnxMatMulSite& matmul) { return emit_qdq_matmul(*state, g, matmul); };
}

// Plan entries no emitter used name sites the graph does not have.
void check_all_used(const QdqState& state) {
  for (const auto& [key, threshold] : state.plan.activation_thresholds)
    if (!state.used_activations.count(key))
      throw Error("QDQ export: plan.activation_thresholds has " + operand_text(key) +
                  ", but the model has no Linear or attention MatMul site of that name");
  for (const auto& [site, weight] : state.plan.weights)
    if (!state.used_weights.count(site))
      throw Error("QDQ export: plan.weights has '" + site + "', but the model has no Linear site of that name");
}

}  // namespace

OnnxLinearEmitter qdq_linear_emitter(const quant::FakeQuantPlan& plan) {
  return linear_emitter(std::make_shared<QdqState>(plan));
}

OnnxMatMulEmitter qdq_matmul_emitter(const quant::FakeQuantPlan& plan) {
  return matmul_emitter(std::make_shared<QdqState>(plan));
}

void export_qdq_onnx(const nn::TaskModelImpl& model, const quant::FakeQuantPlan& plan,
                     const std::filesystem::path& path, OnnxExportOptions options) {
  OnnxGraphBuilder graph(options.graph_name, options.opset);
  graph.set_producer("slimpipe", SLIMPIPE_VERSION_STRING);
  graph.set_doc_string(nn::architecture_name(model.config().model_type, model.head()) +
                       " exported by slimpipe (QDQ int8)");
  try {
    if (options.linear || options.matmul)
      throw Error("QDQ export: options.linear and options.matmul must be empty (the QDQ emitters take their place)");
    auto state = std::make_shared<QdqState>(plan);
    options.linear = linear_emitter(state);
    options.matmul = matmul_emitter(state);
    build_onnx_graph(model, graph, options);
    check_all_used(*state);
  } catch (const Error& e) {
    throw Error(path.string() + ": " + e.what());
  }
  graph.save(path);  // only once the whole graph is built and checked: a failed export leaves no file behind
}

}  // namespace slimpipe::exporter
