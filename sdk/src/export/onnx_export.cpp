// TaskModel -> ONNX graph: inputs, embeddings, additive attention mask, encoder layers, pooler and task head.
// The mask is (1 - mask) * float32 lowest, exactly what TaskModel::forward adds to the attention scores.
#include "slimpipe/export/onnx_export.hpp"

#include <ATen/ATen.h>

#include <limits>

#include "onnx_blocks.hpp"
#include "slimpipe/error.hpp"
#include "slimpipe/version.hpp"

namespace slimpipe::exporter {
namespace {

using detail::cpu_float;
using detail::OnnxEmitContext;

// word + token type (+ task type 0) + position, then LayerNorm: the sum order of embeddings.cpp.
std::string emit_embeddings(OnnxEmitContext& ctx, const nn::EmbeddingsImpl& emb) {
  OnnxGraphBuilder& g = ctx.graph;
  std::string words = g.add(
      "Gather",
      {g.add_initializer("embeddings.word_embeddings.weight", cpu_float(emb.word_embeddings->weight)), "input_ids"},
      "embeddings.words");
  std::string types =
      g.add("Gather",
            {g.add_initializer("embeddings.token_type_embeddings.weight", cpu_float(emb.token_type_embeddings->weight)),
             "token_type_ids"},
            "embeddings.token_types");
  std::string x = g.add("Add", {words, types}, "embeddings.sum_types");
  if (emb.options.use_task_id()) {
    // The graph has no task_type_ids input: row 0 broadcast over [b, s] equals the embedding of all-zero ids.
    std::string row0 =
        g.add_initializer("embeddings.task_type_embeddings.row0", cpu_float(emb.task_type_embeddings->weight[0]));
    x = g.add("Add", {x, row0}, "embeddings.sum_tasks");
  }
  std::string shape = g.add("Shape", {"input_ids"}, "embeddings.input_shape");
  std::string seq = g.add("Gather", {shape, g.add_scalar_int64("embeddings.seq_axis", 1)}, "embeddings.seq_len");
  std::string positions = g.add(
      "Range", {g.add_scalar_int64("embeddings.range_start", 0), seq, g.add_scalar_int64("embeddings.range_step", 1)},
      "embeddings.position_ids");
  std::string pos =
      g.add("Gather",
            {g.add_initializer("embeddings.position_embeddings.weight", cpu_float(emb.position_embeddings->weight)),
             positions},
            "embeddings.positions");
  x = g.add("Add", {x, pos}, "embeddings.sum");
  return detail::emit_layer_norm(ctx, "embeddings.LayerNorm", x, *emb.LayerNorm);
}

// attention_mask [b, s] int64 -> additive [b, 1, 1, s]: 0 for tokens, float32 lowest for padding.
std::string emit_additive_mask(OnnxGraphBuilder& g) {
  std::string mask = g.add("Cast", {"attention_mask"}, "mask.float",
                           {OnnxAttribute::integer("to", static_cast<std::int64_t>(OnnxElementType::Float))});
  std::string unsqueezed = g.add("Unsqueeze", {mask, g.add_int64s("mask.axes", {1, 2})}, "mask.unsqueezed");
  std::string inverted = g.add("Sub", {g.add_scalar("mask.one", 1.0f), unsqueezed}, "mask.inverted");
  return g.add("Mul", {inverted, g.add_scalar("mask.lowest", std::numeric_limits<float>::lowest())}, "mask.additive");
}

void check_opset(std::int64_t opset) {
  if (opset < 13 || opset > 17)
    throw Error("ONNX export: opset " + std::to_string(opset) + " is not supported (expected 13 to 17)");
}

}  // namespace

std::vector<std::string> onnx_output_names(nn::TaskHead head) {
  switch (head) {
    case nn::TaskHead::None:
      return {"last_hidden_state", "pooler_output"};
    case nn::TaskHead::QuestionAnswering:
      return {"start_logits", "end_logits"};
    default:
      return {"logits"};
  }
}

void build_onnx_graph(const nn::TaskModelImpl& model, OnnxGraphBuilder& graph, const OnnxExportOptions& options) {
  check_opset(graph.opset());
  OnnxEmitContext ctx{graph, options.linear, options.matmul};
  const nn::EncoderConfig& config = model.config();
  const std::vector<OnnxDim> tokens{"batch", "sequence"};
  for (const char* input : {"input_ids", "token_type_ids", "attention_mask"})
    graph.add_input(input, OnnxElementType::Int64, tokens);

  std::string x = emit_embeddings(ctx, *model.embeddings);
  const std::string mask = emit_additive_mask(graph);
  for (std::int64_t i = 0; i < model.encoder->size(); ++i)
    x = detail::emit_encoder_layer(ctx, "encoder.layer." + std::to_string(i), *model.encoder->layer(i), x, mask);

  std::string pooled;
  if (model.pooler) {
    std::string first = graph.add("Gather", {x, graph.add_scalar_int64("pooler.first_token", 0)}, "pooler.first",
                                  {OnnxAttribute::integer("axis", 1)});
    pooled = graph.add("Tanh", {ctx.emit_linear("pooler.dense", first, *model.pooler->dense)}, "pooler.tanh");
  }
  // Named outputs go through Identity so that emitters may name their last value freely.
  auto name_output = [&](const std::string& value, const std::string& name, const std::vector<OnnxDim>& shape) {
    std::string out = graph.add("Identity", {value}, name);
    if (out != name) throw Error("ONNX export: output name '" + name + "' is already taken in the graph");
    graph.add_output(out, OnnxElementType::Float, shape);
  };
  const std::int64_t labels = config.num_labels, hidden = config.hidden_size;
  switch (model.head()) {
    case nn::TaskHead::None:
      name_output(x, "last_hidden_state", {"batch", "sequence", hidden});
      name_output(pooled, "pooler_output", {"batch", hidden});
      break;
    case nn::TaskHead::SequenceClassification:
      name_output(ctx.emit_linear("classifier", pooled, *model.classifier), "logits", {"batch", labels});
      break;
    case nn::TaskHead::TokenClassification:
      name_output(ctx.emit_linear("classifier", x, *model.classifier), "logits", {"batch", "sequence", labels});
      break;
    case nn::TaskHead::QuestionAnswering: {
      std::string logits = ctx.emit_linear("qa_outputs", x, *model.qa_outputs);
      const char* names[] = {"start_logits", "end_logits"};
      for (std::int64_t j = 0; j < 2; ++j) {
        std::string picked =
            graph.add("Gather", {logits, graph.add_scalar_int64(std::string("qa.index_") + names[j], j)},
                      std::string("qa.") + names[j], {OnnxAttribute::integer("axis", 2)});
        name_output(picked, names[j], {"batch", "sequence"});
      }
      break;
    }
  }
}

void export_onnx(const nn::TaskModelImpl& model, const std::filesystem::path& path, const OnnxExportOptions& options) {
  OnnxGraphBuilder graph(options.graph_name, options.opset);
  graph.set_producer("slimpipe", SLIMPIPE_VERSION_STRING);
  graph.set_doc_string(nn::architecture_name(model.config().model_type, model.head()) + " exported by slimpipe (fp32)");
  try {
    build_onnx_graph(model, graph, options);
  } catch (const Error& e) {
    throw Error(path.string() + ": " + e.what());
  }
  graph.save(path);  // only once the whole graph is built: a failed export leaves no file behind
}

}  // namespace slimpipe::exporter
