// fp32 ONNX export of a TaskModel (full or pruned): inputs input_ids / token_type_ids / attention_mask with
// dynamic [batch, sequence] axes; every Linear and attention MatMul goes through a replaceable emitter (QDQ hook).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "slimpipe/export.hpp"
#include "slimpipe/export/onnx_graph_builder.hpp"
#include "slimpipe/nn/task_model.hpp"

namespace slimpipe::exporter {

// One Linear of the model, as the graph sees it. `site` is the nn::linear_sites() name
// ("encoder.layer.0.attention.self.query", "classifier", ...); weight is [out, in] as in the module.
struct OnnxLinearSite {
  std::string site;
  std::string input;  // value name of the activation [.., in]
  at::Tensor weight;  // [out, in], float32 CPU
  at::Tensor bias;    // [out]
};
// Emits y = input W^T + b and returns the name of y. The default is emit_linear_fp32.
using OnnxLinearEmitter = std::function<std::string(OnnxGraphBuilder&, const OnnxLinearSite&)>;
// MatMul(W^T initializer [in, out]) followed by Add(bias): the structure a QDQ exporter wraps.
SLIMPIPE_API std::string emit_linear_fp32(OnnxGraphBuilder& graph, const OnnxLinearSite& linear);

// One attention MatMul: site "encoder.layer.<i>.attention.self.qk" (left = Q [b, h, s, d], right = K^T
// [b, h, d, s]) or ".pv" (left = probs [b, h, s, s], right = V [b, h, s, d]).
struct OnnxMatMulSite {
  std::string site;
  std::string left, right;
};
using OnnxMatMulEmitter = std::function<std::string(OnnxGraphBuilder&, const OnnxMatMulSite&)>;
SLIMPIPE_API std::string emit_matmul_fp32(OnnxGraphBuilder& graph, const OnnxMatMulSite& matmul);

struct SLIMPIPE_API OnnxExportOptions {
  // 13..17. Below 17, LayerNorm is decomposed into ReduceMean/Sub/Mul/Add/Sqrt/Div; at 17 it is one
  // LayerNormalization node.
  std::int64_t opset = 14;
  std::string graph_name = "slimpipe";
  OnnxLinearEmitter linear;  // empty: emit_linear_fp32
  OnnxMatMulEmitter matmul;  // empty: emit_matmul_fp32
};

// The ONNX graph names of the model outputs for `head`: {"logits"}, {"start_logits", "end_logits"} for QA,
// {"last_hidden_state", "pooler_output"} for a bare encoder.
SLIMPIPE_API std::vector<std::string> onnx_output_names(nn::TaskHead head);

// Adds the model's inputs, initializers, nodes and outputs to `graph` (whose opset must be 13..17).
// Dropout is left out (inference graph) whatever the module's training flag. ERNIE with use_task_id adds
// task_type_embeddings row 0, i.e. task_type_ids = 0, what TaskModel::forward does when they are not given.
SLIMPIPE_API void build_onnx_graph(const nn::TaskModelImpl& model, OnnxGraphBuilder& graph,
                                   const OnnxExportOptions& options = {});

// build_onnx_graph into a fresh builder, then writes `path` (model.onnx). Errors name the file.
SLIMPIPE_API void export_onnx(const nn::TaskModelImpl& model, const std::filesystem::path& path,
                              const OnnxExportOptions& options = {});

}  // namespace slimpipe::exporter
