// QDQ INT8 ONNX export (model.int8.onnx): the fp32 graph of onnx_export.hpp with QuantizeLinear/DequantizeLinear
// pairs on the activation operands a quant::FakeQuantPlan lists, and int8 Linear weights followed by
// DequantizeLinear. The graph computes what quant::make_fake_quant_hook(plan) computes through TaskModel::forward.
#pragma once

#include <filesystem>

#include "slimpipe/export.hpp"
#include "slimpipe/export/onnx_export.hpp"
#include "slimpipe/nn/task_model.hpp"
#include "slimpipe/quant/fake_quant_hook.hpp"

namespace slimpipe::exporter {

// Linear emitter: the input QDQ'd with scale T/127 and zero point 0 when plan.activation_thresholds has
// (site, 0); the weight as an int8 [in, out] initializer (plan.weights[site].levels transposed) followed by
// DequantizeLinear (per-axis scales thresholds/127 on axis 1, or one scale) when plan.weights has the site;
// then MatMul + Add(bias, fp32, from the model). Sites and operands the plan does not name stay fp32.
// Throws Error (one line) for plans that ONNX int8 QDQ cannot reproduce: bits != 8, onnx_format == false,
// a Linear's operand 1 listed as an activation, weights that are not int8 [out, in] levels with matching
// thresholds, non-finite thresholds; and, when a Linear is emitted, a plan weight whose shape is not the model's.
SLIMPIPE_API OnnxLinearEmitter qdq_linear_emitter(const quant::FakeQuantPlan& plan);
// Attention MatMul emitter: left QDQ'd with (site, 0)'s threshold and right with (site, 1)'s. For "qk" the
// hook's operand 1 is K while the graph's right is K^T; per-tensor quantization does not care.
SLIMPIPE_API OnnxMatMulEmitter qdq_matmul_emitter(const quant::FakeQuantPlan& plan);

// build_onnx_graph with both emitters into a fresh builder, then writes `path`. options.linear and
// options.matmul must be empty (the QDQ emitters take their place). Besides the emitters' errors, a plan entry
// (activation operand or weight) naming a site the model does not have is an Error. Every error is one line
// starting with the path, and a failed export writes no file.
SLIMPIPE_API void export_qdq_onnx(const nn::TaskModelImpl& model, const quant::FakeQuantPlan& plan,
                                  const std::filesystem::path& path, OnnxExportOptions options = {});

}  // namespace slimpipe::exporter
