// TaskModel: embeddings + encoder (+ pooler) + a task head, i.e. BertModel / BertFor{SequenceClassification,
// TokenClassification,QuestionAnswering} and the ERNIE equivalents, with distillation taps and quantization sites.
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "slimpipe/export.hpp"
#include "slimpipe/nn/config.hpp"
#include "slimpipe/nn/embeddings.hpp"
#include "slimpipe/nn/encoder.hpp"
#include "slimpipe/nn/hooks.hpp"

namespace slimpipe::nn {

enum class TaskHead { None, SequenceClassification, TokenClassification, QuestionAnswering };

SLIMPIPE_API const char* to_string(TaskHead head);
// "BertForSequenceClassification" / "ErnieForQuestionAnswering" / "BertModel" ...; throws Error on others.
SLIMPIPE_API TaskHead head_from_architecture(const std::string& architecture);
SLIMPIPE_API std::string architecture_name(const std::string& model_type, TaskHead head);
// Whether the head sits on the pooled output (transformers builds the pooler only then).
inline bool uses_pooler(TaskHead head) { return head == TaskHead::None || head == TaskHead::SequenceClassification; }

struct SLIMPIPE_API EncoderInputs {
  at::Tensor input_ids;       // [batch, seq] int64
  at::Tensor token_type_ids;  // same shape; undefined = zeros
  at::Tensor attention_mask;  // [batch, seq], 1 = token, 0 = padding; undefined = all ones
  at::Tensor task_type_ids;   // ERNIE 3.0 with use_task_id; undefined = zeros
  at::Tensor head_mask;       // [layers, heads] or [heads], multiplies attention probs; undefined = ones
};

struct SLIMPIPE_API EncoderOutput {
  // SequenceClassification: [b, num_labels]; TokenClassification: [b, s, num_labels];
  // QuestionAnswering: [b, s, 2] (start, end); None: undefined.
  at::Tensor logits;
  at::Tensor start_logits, end_logits;  // QuestionAnswering: [b, s]
  at::Tensor sequence_output;           // [b, s, hidden]
  at::Tensor pooled_output;             // [b, hidden] when the model has a pooler
  std::vector<at::Tensor> taps;         // embedding output, then every layer's output: num_layers + 1 tensors
};

class SLIMPIPE_API TaskModelImpl : public torch::nn::Cloneable<TaskModelImpl> {
 public:
  TaskModelImpl(EncoderConfig config, TaskHead head);
  void reset() override;
  EncoderOutput forward(const EncoderInputs& inputs, const SiteHook& hook = {});

  // The config describing the current weights (pruned_heads and widths follow prune()).
  const EncoderConfig& config() const { return encoder->config; }
  TaskHead head() const { return head_; }

  Embeddings embeddings{nullptr};
  Encoder encoder{nullptr};
  Pooler pooler{nullptr};                 // SequenceClassification and None
  torch::nn::Linear classifier{nullptr};  // Sequence/TokenClassification
  torch::nn::Linear qa_outputs{nullptr};  // QuestionAnswering
  torch::nn::Dropout dropout{nullptr};

 private:
  EncoderConfig config_;
  TaskHead head_;
};
TORCH_MODULE(TaskModel);

// Every Linear of the model with its site name (module path), in forward order.
struct LinearSite {
  std::string name;
  torch::nn::Linear module;
};
SLIMPIPE_API std::vector<LinearSite> linear_sites(TaskModelImpl& model);
// Every attention MatMul site: "encoder.layer.<i>.attention.self.qk" and ".pv" per layer.
SLIMPIPE_API std::vector<std::string> matmul_sites(const TaskModelImpl& model);

}  // namespace slimpipe::nn
