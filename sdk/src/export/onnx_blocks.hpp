// The encoder's building blocks as ONNX subgraphs (LayerNorm, activation, attention, FFN layer), written so
// ONNX Runtime's fusions (LayerNormalization, Gelu, FastGelu) recognise them. Private to the exporter.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <string>

#include "slimpipe/export/onnx_export.hpp"
#include "slimpipe/nn/encoder.hpp"

namespace slimpipe::exporter::detail {

// The graph under construction plus the emitters chosen in the options.
struct OnnxEmitContext {
  OnnxGraphBuilder& graph;
  OnnxLinearEmitter linear;
  OnnxMatMulEmitter matmul;

  std::string emit_linear(const std::string& site, const std::string& input, const torch::nn::LinearImpl& module);
  std::string emit_matmul(const std::string& site, const std::string& left, const std::string& right);
};

// The module's tensors as the graph stores them: detached, float32, on the CPU, contiguous.
at::Tensor cpu_float(const at::Tensor& t);

// y = (x - mean) / sqrt(var + eps) * gamma + beta over the last axis; one LayerNormalization node at opset 17.
std::string emit_layer_norm(OnnxEmitContext& ctx, const std::string& site, const std::string& x,
                            const torch::nn::LayerNormImpl& norm);

// config.json hidden_act: "gelu" (erf), "gelu_new" / "gelu_pytorch_tanh" (tanh approximation), "relu".
std::string emit_activation(OnnxEmitContext& ctx, const std::string& site, const std::string& hidden_act,
                            const std::string& x);

// One encoder layer: x [b, s, hidden] and the additive mask [b, 1, 1, s] -> [b, s, hidden]. The layer's own
// head count and FFN width are read from its modules, so pruned layers need nothing special.
std::string emit_encoder_layer(OnnxEmitContext& ctx, const std::string& site, const nn::EncoderLayerImpl& layer,
                               const std::string& x, const std::string& mask);

}  // namespace slimpipe::exporter::detail
