// Embeddings: word + position + token type (+ ERNIE 3.0 task type), then LayerNorm and dropout.
// Submodule names match transformers' BertEmbeddings / ErnieEmbeddings state-dict keys.
#pragma once

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

#include "slimpipe/export.hpp"
#include "slimpipe/nn/config.hpp"

namespace slimpipe::nn {

struct SLIMPIPE_API EmbeddingsOptions {
  EmbeddingsOptions(std::int64_t vocab_size, std::int64_t hidden_size)
      : vocab_size_(vocab_size), hidden_size_(hidden_size) {}
  static EmbeddingsOptions from_config(const EncoderConfig& c);
  TORCH_ARG(std::int64_t, vocab_size);
  TORCH_ARG(std::int64_t, hidden_size);
  TORCH_ARG(std::int64_t, max_position_embeddings) = 512;
  TORCH_ARG(std::int64_t, type_vocab_size) = 2;
  TORCH_ARG(bool, use_task_id) = false;
  TORCH_ARG(std::int64_t, task_type_vocab_size) = 3;
  TORCH_ARG(std::int64_t, pad_token_id) = 0;
  TORCH_ARG(double, layer_norm_eps) = 1e-12;
  TORCH_ARG(double, hidden_dropout_prob) = 0.1;
};

class SLIMPIPE_API EmbeddingsImpl : public torch::nn::Cloneable<EmbeddingsImpl> {
 public:
  explicit EmbeddingsImpl(EmbeddingsOptions options);
  void reset() override;
  // input_ids [batch, seq] int64; token_type_ids / task_type_ids: same shape, undefined = zeros.
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& token_type_ids = {},
                     const at::Tensor& task_type_ids = {});

  EmbeddingsOptions options;
  torch::nn::Embedding word_embeddings{nullptr}, position_embeddings{nullptr}, token_type_embeddings{nullptr};
  torch::nn::Embedding task_type_embeddings{nullptr};  // only with use_task_id
  torch::nn::LayerNorm LayerNorm{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(Embeddings);

}  // namespace slimpipe::nn
