// Encoder blocks as ONNX nodes, op for op the math of sdk/src/nn (attention.cpp, feed_forward.cpp): the same
// operation order (scores / sqrt(d), then + mask) keeps ONNX Runtime within float noise of LibTorch.
#include "onnx_blocks.hpp"

#include <ATen/ATen.h>

#include <cmath>

#include "slimpipe/error.hpp"

namespace slimpipe::exporter {

std::string emit_linear_fp32(OnnxGraphBuilder& graph, const OnnxLinearSite& linear) {
  // ONNX MatMul takes [in, out]; storing W^T keeps the per-Linear structure MatMul + Add that QDQ tools expect.
  std::string w = graph.add_initializer(linear.site + ".weight_t", linear.weight.t().contiguous());
  std::string y = graph.add("MatMul", {linear.input, w}, linear.site + ".matmul");
  if (!linear.bias.defined()) return y;
  std::string b = graph.add_initializer(linear.site + ".bias", linear.bias);
  return graph.add("Add", {y, b}, linear.site + ".add_bias");
}

std::string emit_matmul_fp32(OnnxGraphBuilder& graph, const OnnxMatMulSite& matmul) {
  return graph.add("MatMul", {matmul.left, matmul.right}, matmul.site);
}

namespace detail {

at::Tensor cpu_float(const at::Tensor& t) { return t.detach().to(at::kCPU, at::kFloat).contiguous(); }

std::string OnnxEmitContext::emit_linear(const std::string& site, const std::string& input,
                                         const torch::nn::LinearImpl& module) {
  OnnxLinearSite s{site, input, cpu_float(module.weight),
                   module.bias.defined() ? cpu_float(module.bias) : at::Tensor()};
  return linear ? linear(graph, s) : emit_linear_fp32(graph, s);
}

std::string OnnxEmitContext::emit_matmul(const std::string& site, const std::string& left, const std::string& right) {
  OnnxMatMulSite s{site, left, right};
  return matmul ? matmul(graph, s) : emit_matmul_fp32(graph, s);
}

std::string emit_layer_norm(OnnxEmitContext& ctx, const std::string& site, const std::string& x,
                            const torch::nn::LayerNormImpl& norm) {
  OnnxGraphBuilder& g = ctx.graph;
  const auto& shape = norm.options.normalized_shape();
  if (shape.size() != 1)
    throw Error("ONNX export: " + site + " normalizes " + std::to_string(shape.size()) + " axes, expected 1");
  std::string gamma = g.add_initializer(site + ".weight", cpu_float(norm.weight));
  std::string beta = g.add_initializer(site + ".bias", cpu_float(norm.bias));
  const float eps = static_cast<float>(norm.options.eps());
  if (g.opset() >= 17)
    return g.add("LayerNormalization", {x, gamma, beta}, site,
                 {OnnxAttribute::integer("axis", -1), OnnxAttribute::real("epsilon", eps)});
  // Pow(., 2) rather than Mul(d, d): it is the pattern ONNX Runtime's LayerNormFusion rewrites into one kernel.
  const std::vector<OnnxAttribute> last_axis{OnnxAttribute::integers("axes", {-1}),
                                             OnnxAttribute::integer("keepdims", 1)};
  std::string mean = g.add("ReduceMean", {x}, site + ".mean", last_axis);
  std::string centered = g.add("Sub", {x, mean}, site + ".centered");
  std::string squared = g.add("Pow", {centered, g.add_scalar(site + ".two", 2.0f)}, site + ".squared");
  std::string var = g.add("ReduceMean", {squared}, site + ".var", last_axis);
  std::string var_eps = g.add("Add", {var, g.add_scalar(site + ".eps", eps)}, site + ".var_eps");
  std::string stddev = g.add("Sqrt", {var_eps}, site + ".std");
  std::string normed = g.add("Div", {centered, stddev}, site + ".normed");
  std::string scaled = g.add("Mul", {normed, gamma}, site + ".scaled");
  return g.add("Add", {scaled, beta}, site);
}

std::string emit_activation(OnnxEmitContext& ctx, const std::string& site, const std::string& hidden_act,
                            const std::string& x) {
  OnnxGraphBuilder& g = ctx.graph;
  if (hidden_act == "relu") return g.add("Relu", {x}, site + ".relu");
  if (hidden_act == "gelu") {
    // 0.5 x (1 + erf(x / sqrt 2)): transformers' ONNX pattern, which ONNX Runtime fuses into Gelu.
    std::string scaled =
        g.add("Div", {x, g.add_scalar(site + ".sqrt2", static_cast<float>(std::sqrt(2.0)))}, site + ".gelu_div");
    std::string erf = g.add("Erf", {scaled}, site + ".gelu_erf");
    std::string one_plus = g.add("Add", {erf, g.add_scalar(site + ".one", 1.0f)}, site + ".gelu_add");
    std::string times_x = g.add("Mul", {x, one_plus}, site + ".gelu_mul");
    return g.add("Mul", {times_x, g.add_scalar(site + ".half", 0.5f)}, site + ".gelu");
  }
  if (hidden_act == "gelu_new" || hidden_act == "gelu_pytorch_tanh") {
    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as at::gelu(x, "tanh") and transformers' NewGELU.
    const double pi = std::acos(-1.0);
    std::string cube = g.add("Pow", {x, g.add_scalar(site + ".three", 3.0f)}, site + ".gelu_cube");
    std::string cubic = g.add("Mul", {cube, g.add_scalar(site + ".coeff", 0.044715f)}, site + ".gelu_cubic");
    std::string inner = g.add("Add", {x, cubic}, site + ".gelu_inner");
    std::string arg = g.add("Mul", {inner, g.add_scalar(site + ".sqrt_2_pi", static_cast<float>(std::sqrt(2.0 / pi)))},
                            site + ".gelu_arg");
    std::string tanh = g.add("Tanh", {arg}, site + ".gelu_tanh");
    std::string one_plus = g.add("Add", {tanh, g.add_scalar(site + ".one", 1.0f)}, site + ".gelu_add");
    std::string times_x = g.add("Mul", {x, one_plus}, site + ".gelu_mul");
    return g.add("Mul", {times_x, g.add_scalar(site + ".half", 0.5f)}, site + ".gelu");
  }
  throw Error("ONNX export: unknown hidden_act '" + hidden_act +
              "' (expected gelu, gelu_new, gelu_pytorch_tanh or relu)");
}

namespace {

// [b, s, heads * d] -> [b, heads, s, d] (perm 0,2,1,3) or, for keys, straight to K^T [b, heads, d, s] (0,2,3,1).
std::string split_heads(OnnxGraphBuilder& g, const std::string& site, const std::string& x, std::int64_t heads,
                        std::int64_t head_dim, const std::vector<std::int64_t>& perm) {
  // Reshape's 0 copies the input dim, so batch and sequence stay dynamic.
  std::string shape = g.add_int64s(site + ".split_shape", {0, 0, heads, head_dim});
  std::string split = g.add("Reshape", {x, shape}, site + ".split");
  return g.add("Transpose", {split}, site + ".heads", {OnnxAttribute::integers("perm", perm)});
}

std::string emit_self_attention(OnnxEmitContext& ctx, const std::string& site, const nn::SelfAttentionImpl& self,
                                const std::string& x, const std::string& mask) {
  OnnxGraphBuilder& g = ctx.graph;
  const std::int64_t heads = self.options.num_heads(), d = self.options.head_dim();
  std::string q =
      split_heads(g, site + ".query", ctx.emit_linear(site + ".query", x, *self.query), heads, d, {0, 2, 1, 3});
  std::string k_t = split_heads(g, site + ".key", ctx.emit_linear(site + ".key", x, *self.key), heads, d, {0, 2, 3, 1});
  std::string v =
      split_heads(g, site + ".value", ctx.emit_linear(site + ".value", x, *self.value), heads, d, {0, 2, 1, 3});
  std::string qk = ctx.emit_matmul(site + ".qk", q, k_t);
  // Division by sqrt(d) as in attention.cpp (not a multiply by its inverse), in float32.
  std::string scale = g.add_scalar(site + ".sqrt_head_dim", static_cast<float>(std::sqrt(static_cast<double>(d))));
  std::string scores = g.add("Div", {qk, scale}, site + ".scores");
  std::string masked = g.add("Add", {scores, mask}, site + ".masked_scores");
  std::string probs = g.add("Softmax", {masked}, site + ".probs", {OnnxAttribute::integer("axis", -1)});
  std::string context = ctx.emit_matmul(site + ".pv", probs, v);
  std::string merged =
      g.add("Transpose", {context}, site + ".context_t", {OnnxAttribute::integers("perm", {0, 2, 1, 3})});
  std::string shape = g.add_int64s(site + ".merge_shape", {0, 0, heads * d});
  return g.add("Reshape", {merged, shape}, site + ".context");
}

}  // namespace

std::string emit_encoder_layer(OnnxEmitContext& ctx, const std::string& site, const nn::EncoderLayerImpl& layer,
                               const std::string& x, const std::string& mask) {
  OnnxGraphBuilder& g = ctx.graph;
  const nn::AttentionImpl& attention = *layer.attention;
  std::string context = emit_self_attention(ctx, site + ".attention.self", *attention.self, x, mask);
  std::string projected = ctx.emit_linear(site + ".attention.output.dense", context, *attention.output->dense);
  std::string residual = g.add("Add", {projected, x}, site + ".attention.output.residual");
  std::string attended =
      emit_layer_norm(ctx, site + ".attention.output.LayerNorm", residual, *attention.output->LayerNorm);

  std::string inner = ctx.emit_linear(site + ".intermediate.dense", attended, *layer.intermediate->dense);
  std::string activated = emit_activation(ctx, site + ".intermediate", layer.intermediate->options.hidden_act(), inner);
  std::string out = ctx.emit_linear(site + ".output.dense", activated, *layer.output->dense);
  std::string out_residual = g.add("Add", {out, attended}, site + ".output.residual");
  return emit_layer_norm(ctx, site + ".output.LayerNorm", out_residual, *layer.output->LayerNorm);
}

}  // namespace detail
}  // namespace slimpipe::exporter
