// Generates the TorchScript forward() of a TaskModel, call for call the ATen ops of sdk/src/nn, so the scripted
// model reproduces TaskModel::forward to the bit. Kept apart from the jit headers, which are slow to compile.
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "slimpipe/error.hpp"
#include "slimpipe/export/torchscript_export.hpp"
#include "torchscript_names.hpp"

namespace slimpipe::exporter {
namespace {

// Shortest decimal that reads back as the same double, so constants survive the trip through source text.
std::string literal(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  std::string s = buf;
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

class SourceWriter {
 public:
  void line(const std::string& text) { out_ << "    " << text << "\n"; }
  static std::string param(const std::string& module_path) {
    return "self." + detail::torchscript_attribute(module_path);
  }
  static std::string linear(const std::string& module, const std::string& x) {
    return "torch.linear(" + x + ", " + param(module + ".weight") + ", " + param(module + ".bias") + ")";
  }
  static std::string layer_norm(const std::string& module, const std::string& x, std::int64_t hidden, double eps) {
    return "torch.layer_norm(" + x + ", [" + std::to_string(hidden) + "], " + param(module + ".weight") + ", " +
           param(module + ".bias") + ", " + literal(eps) + ")";
  }
  std::string str() const { return out_.str(); }

 private:
  std::ostringstream out_;
};

std::string activation(const std::string& hidden_act, const std::string& x) {
  if (hidden_act == "gelu") return "torch.gelu(" + x + ")";
  if (hidden_act == "gelu_new" || hidden_act == "gelu_pytorch_tanh") return "torch.gelu(" + x + ", approximate='tanh')";
  if (hidden_act == "relu") return "torch.relu(" + x + ")";
  throw Error("TorchScript export: unknown hidden_act '" + hidden_act +
              "' (expected gelu, gelu_new, gelu_pytorch_tanh or relu)");
}

void write_layer(SourceWriter& w, const nn::EncoderLayerImpl& layer, std::int64_t index) {
  const std::string p = "encoder.layer." + std::to_string(index);
  const auto& a = layer.options.attention();
  const std::int64_t heads = a.num_heads(), d = a.head_dim(), hidden = a.hidden_size();
  const std::string split =
      ".view([b, s, " + std::to_string(heads) + ", " + std::to_string(d) + "]).permute([0, 2, 1, 3])";
  w.line("# layer " + std::to_string(index) + ": " + std::to_string(heads) + " heads, FFN width " +
         std::to_string(layer.intermediate_size()));
  w.line("q = " + SourceWriter::linear(p + ".attention.self.query", "x") + split);
  w.line("k = " + SourceWriter::linear(p + ".attention.self.key", "x") + split);
  w.line("v = " + SourceWriter::linear(p + ".attention.self.value", "x") + split);
  w.line("scores = torch.matmul(q, k.transpose(-1, -2)) / " + literal(std::sqrt(static_cast<double>(d))));
  w.line("probs = torch.softmax(scores + mask, -1)");
  w.line("context = torch.matmul(probs, v).permute([0, 2, 1, 3]).contiguous().view([b, s, " +
         std::to_string(heads * d) + "])");
  w.line("attended = " +
         SourceWriter::layer_norm(p + ".attention.output.LayerNorm",
                                  SourceWriter::linear(p + ".attention.output.dense", "context") + " + x", hidden,
                                  a.layer_norm_eps()));
  w.line("inner = " + activation(layer.options.feed_forward().hidden_act(),
                                 SourceWriter::linear(p + ".intermediate.dense", "attended")));
  w.line("x = " + SourceWriter::layer_norm(p + ".output.LayerNorm",
                                           SourceWriter::linear(p + ".output.dense", "inner") + " + attended", hidden,
                                           layer.options.feed_forward().layer_norm_eps()));
}

}  // namespace

std::string torchscript_source(const nn::TaskModelImpl& model) {
  const nn::EmbeddingsOptions& e = model.embeddings->options;
  SourceWriter w;
  w.line("b = input_ids.size(0)");
  w.line("s = input_ids.size(1)");
  w.line("x = torch.embedding(" + SourceWriter::param("embeddings.word_embeddings.weight") + ", input_ids)");
  w.line("x = x + torch.embedding(" + SourceWriter::param("embeddings.token_type_embeddings.weight") +
         ", token_type_ids)");
  if (e.use_task_id())  // TaskModel::forward's default when no task_type_ids are given
    w.line("x = x + torch.embedding(" + SourceWriter::param("embeddings.task_type_embeddings.weight") +
           ", torch.zeros_like(input_ids))");
  w.line("positions = torch.arange(s, dtype=input_ids.dtype, device=input_ids.device).unsqueeze(0)");
  w.line("x = x + torch.embedding(" + SourceWriter::param("embeddings.position_embeddings.weight") + ", positions)");
  w.line("x = " + SourceWriter::layer_norm("embeddings.LayerNorm", "x", e.hidden_size(), e.layer_norm_eps()));
  // (1 - mask) * finfo(float32).min, as TaskModel::forward builds it.
  w.line("mask = (1.0 - attention_mask.to(x.dtype).unsqueeze(1).unsqueeze(2)) * " +
         literal(static_cast<double>(std::numeric_limits<float>::lowest())));
  for (std::int64_t i = 0; i < model.encoder->size(); ++i) write_layer(w, *model.encoder->layer(i), i);
  if (model.pooler) w.line("pooled = torch.tanh(" + SourceWriter::linear("pooler.dense", "x.select(1, 0)") + ")");
  switch (model.head()) {
    case nn::TaskHead::None:
      w.line("return (x, pooled)");
      break;
    case nn::TaskHead::SequenceClassification:
      w.line("return " + SourceWriter::linear("classifier", "pooled"));
      break;
    case nn::TaskHead::TokenClassification:
      w.line("return " + SourceWriter::linear("classifier", "x"));
      break;
    case nn::TaskHead::QuestionAnswering:
      w.line("logits = " + SourceWriter::linear("qa_outputs", "x"));
      w.line("return (logits.select(-1, 0), logits.select(-1, 1))");
      break;
  }
  return "def forward(self, input_ids, token_type_ids, attention_mask):\n" + w.str();
}

}  // namespace slimpipe::exporter
