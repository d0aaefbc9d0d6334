// TaskModel forward: embeddings -> encoder -> pooler / head, as transformers' Bert*/Ernie* task models,
// with the additive mask of transformers 4.2x: (1 - mask) * finfo(dtype).min.
#include "slimpipe/nn/task_model.hpp"

#include <ATen/ATen.h>

#include <limits>

#include "slimpipe/error.hpp"
#include "slimpipe/nn/shape_text.hpp"

namespace slimpipe::nn {
namespace {

double lowest(at::ScalarType t) {
  switch (t) {
    case at::kDouble:
      return std::numeric_limits<double>::lowest();
    case at::kHalf:
      return static_cast<double>(std::numeric_limits<c10::Half>::lowest());
    case at::kBFloat16:
      return static_cast<double>(std::numeric_limits<c10::BFloat16>::lowest());
    default:
      return static_cast<double>(std::numeric_limits<float>::lowest());
  }
}

const char* const kHeadSuffix[] = {"Model", "ForSequenceClassification", "ForTokenClassification",
                                   "ForQuestionAnswering"};

}  // namespace

const char* to_string(TaskHead head) {
  switch (head) {
    case TaskHead::None:
      return "none";
    case TaskHead::SequenceClassification:
      return "seq_cls";
    case TaskHead::TokenClassification:
      return "token_cls";
    case TaskHead::QuestionAnswering:
      return "qa";
  }
  return "?";
}

TaskHead head_from_architecture(const std::string& arch) {
  for (const char* family : {"Bert", "Ernie"}) {
    if (arch.rfind(family, 0) != 0) continue;
    std::string rest = arch.substr(std::string(family).size());
    for (int h = 0; h < 4; ++h)
      if (rest == kHeadSuffix[h]) return static_cast<TaskHead>(h);
    // Pre-training heads (MLM / NSP) are not modelled: their weights stay unused, the encoder loads.
    if (rest == "ForPreTraining" || rest == "ForMaskedLM" || rest == "LMHeadModel") return TaskHead::None;
  }
  throw Error("architecture '" + arch +
              "' is not supported (expected Bert/Ernie Model, ForSequenceClassification, "
              "ForTokenClassification or ForQuestionAnswering)");
}

std::string architecture_name(const std::string& model_type, TaskHead head) {
  return std::string(model_type == "ernie" ? "Ernie" : "Bert") + kHeadSuffix[static_cast<int>(head)];
}

TaskModelImpl::TaskModelImpl(EncoderConfig config, TaskHead head) : config_(std::move(config)), head_(head) {
  config_.validate();
  reset();
}

void TaskModelImpl::reset() {
  // clone() copies this object, then calls reset(): the encoder it still points to holds the current
  // per-layer widths, which may have changed since construction (Encoder::replace_layer).
  if (encoder) config_ = encoder->config;
  embeddings = register_module("embeddings", Embeddings(EmbeddingsOptions::from_config(config_)));
  encoder = register_module("encoder", Encoder(config_));
  pooler = nullptr;
  classifier = nullptr;
  qa_outputs = nullptr;
  dropout = nullptr;
  if (uses_pooler(head_)) pooler = register_module("pooler", Pooler(config_.hidden_size));
  if (head_ == TaskHead::SequenceClassification || head_ == TaskHead::TokenClassification) {
    dropout = register_module("dropout", torch::nn::Dropout(config_.classifier_dropout_prob()));
    classifier = register_module("classifier", torch::nn::Linear(config_.hidden_size, config_.num_labels));
  }
  if (head_ == TaskHead::QuestionAnswering)
    qa_outputs = register_module("qa_outputs", torch::nn::Linear(config_.hidden_size, 2));
}

EncoderOutput TaskModelImpl::forward(const EncoderInputs& in, const SiteHook& hook) {
  EncoderOutput out;
  const at::Tensor& ids = in.input_ids;
  if (!ids.defined() || ids.dim() != 2)
    throw Error("input_ids must be a [batch, seq] tensor, found " +
                (ids.defined() ? shape_string(ids.sizes()) : std::string("none")));
  auto check_like_ids = [&](const at::Tensor& t, const char* name) {
    if (t.defined() && t.sizes() != ids.sizes())
      throw Error(std::string(name) + " has shape " + shape_string(t.sizes()) + ", input_ids has " +
                  shape_string(ids.sizes()));
  };
  check_like_ids(in.token_type_ids, "token_type_ids");
  check_like_ids(in.attention_mask, "attention_mask");
  check_like_ids(in.task_type_ids, "task_type_ids");
  // An id without an embedding row would stop in LibTorch's index check with a backtrace naming no input.
  // Checked on the CPU only: on a GPU it would wait for the device at every step.
  auto check_ids = [](const at::Tensor& t, const char* name, std::int64_t rows, const char* size_key) {
    if (!t.defined() || !t.device().is_cpu() || t.numel() == 0) return;
    const auto [lowest_id, highest_id] = at::aminmax(t);
    const std::int64_t lo = lowest_id.item<std::int64_t>(), hi = highest_id.item<std::int64_t>();
    if (lo < 0 || hi >= rows)
      throw Error(std::string(name) + " holds " + (std::string(name) == "input_ids" ? "token id " : "") +
                  std::to_string(lo < 0 ? lo : hi) + ", outside the embedding's 0.." + std::to_string(rows - 1) +
                  " (config.json " + size_key + " " + std::to_string(rows) + ")");
  };
  const EncoderConfig& c = config();
  check_ids(ids, "input_ids", c.vocab_size, "vocab_size");
  check_ids(in.token_type_ids, "token_type_ids", c.type_vocab_size, "type_vocab_size");
  if (c.use_task_id) check_ids(in.task_type_ids, "task_type_ids", c.task_type_vocab_size, "task_type_vocab_size");

  at::Tensor x = embeddings(ids, in.token_type_ids, in.task_type_ids);
  out.taps.push_back(x);
  at::Tensor mask;
  if (in.attention_mask.defined()) {
    const auto dtype = x.scalar_type();
    mask = (1.0 - in.attention_mask.to(dtype).unsqueeze(1).unsqueeze(2)) * lowest(dtype);
  }
  out.sequence_output = encoder(x, mask, in.head_mask, scoped(hook, "encoder."), &out.taps);
  if (pooler) out.pooled_output = pooler(out.sequence_output, scoped(hook, "pooler."));
  switch (head_) {
    case TaskHead::None:
      break;
    case TaskHead::SequenceClassification:
      out.logits = hooked_linear(*classifier, dropout(out.pooled_output), hook, "classifier");
      break;
    case TaskHead::TokenClassification:
      out.logits = hooked_linear(*classifier, dropout(out.sequence_output), hook, "classifier");
      break;
    case TaskHead::QuestionAnswering:
      out.logits = hooked_linear(*qa_outputs, out.sequence_output, hook, "qa_outputs");
      out.start_logits = out.logits.select(-1, 0);
      out.end_logits = out.logits.select(-1, 1);
      break;
  }
  return out;
}

std::vector<LinearSite> linear_sites(TaskModelImpl& model) {
  std::vector<LinearSite> sites;
  // named_modules walks children in registration order, which is forward order here.
  for (const auto& item : model.named_modules("", /*include_self=*/false))
    if (auto linear = std::dynamic_pointer_cast<torch::nn::LinearImpl>(item.value()))
      sites.push_back({item.key(), torch::nn::Linear(linear)});
  return sites;
}

std::vector<std::string> matmul_sites(const TaskModelImpl& model) {
  std::vector<std::string> sites;
  for (std::int64_t i = 0; i < model.config().num_hidden_layers; ++i) {
    std::string prefix = "encoder.layer." + std::to_string(i) + ".attention.self.";
    sites.push_back(prefix + "qk");
    sites.push_back(prefix + "pv");
  }
  return sites;
}

}  // namespace slimpipe::nn
