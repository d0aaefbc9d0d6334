// Multi-head self-attention with a per-layer head count (pruned layers keep head_dim of the full model),
// plus the output projection + residual LayerNorm. Names match transformers' BertAttention.
#pragma once

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

#include "slimpipe/export.hpp"
#include "slimpipe/nn/config.hpp"
#include "slimpipe/nn/hooks.hpp"

namespace slimpipe::nn {

struct SLIMPIPE_API AttentionOptions {
  // num_heads starts equal to num_attention_heads; set it lower for a pruned layer.
  AttentionOptions(std::int64_t hidden_size, std::int64_t num_attention_heads)
      : hidden_size_(hidden_size), num_attention_heads_(num_attention_heads), num_heads_(num_attention_heads) {}
  static AttentionOptions from_config(const EncoderConfig& c, std::int64_t layer);
  std::int64_t head_dim() const { return hidden_size_ / num_attention_heads_; }
  std::int64_t all_head_size() const { return num_heads_ * head_dim(); }
  TORCH_ARG(std::int64_t, hidden_size);
  TORCH_ARG(std::int64_t, num_attention_heads);  // of the unpruned layer
  TORCH_ARG(std::int64_t, num_heads);            // heads present in this layer
  TORCH_ARG(double, attention_probs_dropout_prob) = 0.1;
  TORCH_ARG(double, hidden_dropout_prob) = 0.1;
  TORCH_ARG(double, layer_norm_eps) = 1e-12;
};

// query/key/value projections and softmax(QK^T / sqrt(d) + mask) V. Sites: query, key, value, qk, pv.
class SLIMPIPE_API SelfAttentionImpl : public torch::nn::Cloneable<SelfAttentionImpl> {
 public:
  explicit SelfAttentionImpl(AttentionOptions options);
  void reset() override;
  // hidden [b, s, hidden]; mask: additive [b, 1, 1, s] or undefined; head_mask: [num_heads] or undefined,
  // multiplies the attention probs per head. Returns the context [b, s, num_heads * head_dim].
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& mask = {}, const at::Tensor& head_mask = {},
                     const SiteHook& hook = {});

  // Heads the forward uses: the first active_heads of this layer (rows of query/key/value), 0 = all.
  // DynaBERT runs its supernet at a smaller width this way; the weights stay whole and shared, so
  // gradients of a narrow forward land in the leading rows of the full parameters.
  std::int64_t active_heads = 0;
  std::int64_t heads_in_use() const { return active_heads > 0 ? active_heads : options.num_heads(); }

  AttentionOptions options;
  torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(SelfAttention);

// dense(context) -> dropout -> LayerNorm(. + residual). transformers calls it BertSelfOutput.
// A context narrower than dense's input (fewer active heads) uses the leading columns of dense.
class SLIMPIPE_API AttentionOutputImpl : public torch::nn::Cloneable<AttentionOutputImpl> {
 public:
  explicit AttentionOutputImpl(AttentionOptions options);
  void reset() override;
  at::Tensor forward(const at::Tensor& context, const at::Tensor& residual, const SiteHook& hook = {});

  AttentionOptions options;
  torch::nn::Linear dense{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(AttentionOutput);

// Submodules "self" and "output", as in transformers' state dicts.
class SLIMPIPE_API AttentionImpl : public torch::nn::Cloneable<AttentionImpl> {
 public:
  explicit AttentionImpl(AttentionOptions options);
  void reset() override;
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& mask = {}, const at::Tensor& head_mask = {},
                     const SiteHook& hook = {});

  AttentionOptions options;
  SelfAttention self{nullptr};
  AttentionOutput output{nullptr};
};
TORCH_MODULE(Attention);

}  // namespace slimpipe::nn
