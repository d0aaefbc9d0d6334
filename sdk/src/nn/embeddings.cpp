// Embeddings forward: the sum order follows transformers (word + token type [+ task type] + position),
// which matters for bit-level agreement with reference logits.
#include "slimpipe/nn/embeddings.hpp"

#include <ATen/ATen.h>

#include "slimpipe/error.hpp"

namespace slimpipe::nn {

EmbeddingsOptions EmbeddingsOptions::from_config(const EncoderConfig& c) {
  return EmbeddingsOptions(c.vocab_size, c.hidden_size)
      .max_position_embeddings(c.max_position_embeddings)
      .type_vocab_size(c.type_vocab_size)
      .use_task_id(c.use_task_id)
      .task_type_vocab_size(c.task_type_vocab_size)
      .pad_token_id(c.pad_token_id)
      .layer_norm_eps(c.layer_norm_eps)
      .hidden_dropout_prob(c.hidden_dropout_prob);
}

EmbeddingsImpl::EmbeddingsImpl(EmbeddingsOptions options_) : options(std::move(options_)) { reset(); }

void EmbeddingsImpl::reset() {
  const auto& o = options;
  torch::nn::EmbeddingOptions words(o.vocab_size(), o.hidden_size());
  // padding_idx only keeps the pad row's gradient at zero, as in transformers.
  if (o.pad_token_id() >= 0 && o.pad_token_id() < o.vocab_size()) words.padding_idx(o.pad_token_id());
  word_embeddings = register_module("word_embeddings", torch::nn::Embedding(words));
  position_embeddings =
      register_module("position_embeddings", torch::nn::Embedding(o.max_position_embeddings(), o.hidden_size()));
  token_type_embeddings =
      register_module("token_type_embeddings", torch::nn::Embedding(o.type_vocab_size(), o.hidden_size()));
  if (o.use_task_id())
    task_type_embeddings =
        register_module("task_type_embeddings", torch::nn::Embedding(o.task_type_vocab_size(), o.hidden_size()));
  LayerNorm = register_module(
      "LayerNorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.hidden_size()}).eps(o.layer_norm_eps())));
  dropout = register_module("dropout", torch::nn::Dropout(o.hidden_dropout_prob()));
}

at::Tensor EmbeddingsImpl::forward(const at::Tensor& input_ids, const at::Tensor& token_type_ids,
                                   const at::Tensor& task_type_ids) {
  if (input_ids.dim() != 2)
    throw Error("input_ids must be [batch, seq], found " + std::to_string(input_ids.dim()) + " dimensions");
  const std::int64_t seq = input_ids.size(1);
  if (seq > options.max_position_embeddings())
    throw Error("input has " + std::to_string(seq) + " tokens, max_position_embeddings is " +
                std::to_string(options.max_position_embeddings()));
  at::Tensor types = token_type_ids.defined() ? token_type_ids : at::zeros_like(input_ids);
  at::Tensor x = word_embeddings(input_ids) + token_type_embeddings(types);
  if (options.use_task_id()) {
    at::Tensor tasks = task_type_ids.defined() ? task_type_ids : at::zeros_like(input_ids);
    x = x + task_type_embeddings(tasks);
  }
  x = x + position_embeddings(at::arange(seq, input_ids.options().dtype(at::kLong)).unsqueeze(0));
  return dropout(LayerNorm(x));
}

}  // namespace slimpipe::nn
