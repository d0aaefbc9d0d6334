// Self-attention math of transformers' BertSelfAttention (eager path): scores = QK^T / sqrt(head_dim) + mask,
// softmax, dropout, head mask, then PV. head_dim comes from the unpruned config, as when transformers prunes heads.
#include "slimpipe/nn/attention.hpp"

#include <cmath>

#include <ATen/ATen.h>

#include "slimpipe/error.hpp"
#include "slimpipe/nn/shape_text.hpp"

namespace slimpipe::nn {

AttentionOptions AttentionOptions::from_config(const EncoderConfig& c, std::int64_t layer) {
  return AttentionOptions(c.hidden_size, c.num_attention_heads)
      .num_heads(c.num_heads(layer))
      .attention_probs_dropout_prob(c.attention_probs_dropout_prob)
      .hidden_dropout_prob(c.hidden_dropout_prob)
      .layer_norm_eps(c.layer_norm_eps);
}

SelfAttentionImpl::SelfAttentionImpl(AttentionOptions options_) : options(std::move(options_)) { reset(); }

void SelfAttentionImpl::reset() {
  const std::int64_t h = options.hidden_size(), all = options.all_head_size();
  query = register_module("query", torch::nn::Linear(h, all));
  key = register_module("key", torch::nn::Linear(h, all));
  value = register_module("value", torch::nn::Linear(h, all));
  dropout = register_module("dropout", torch::nn::Dropout(options.attention_probs_dropout_prob()));
}

at::Tensor SelfAttentionImpl::forward(const at::Tensor& hidden, const at::Tensor& mask, const at::Tensor& head_mask,
                                      const SiteHook& hook) {
  const std::int64_t b = hidden.size(0), s = hidden.size(1), heads = options.num_heads(), d = options.head_dim();
  // [b, s, heads*d] -> [b, heads, s, d]
  auto split = [&](const at::Tensor& x) { return x.view({b, s, heads, d}).permute({0, 2, 1, 3}); };
  at::Tensor q = split(hooked_linear(*query, hidden, hook, "query"));
  at::Tensor k = split(hooked_linear(*key, hidden, hook, "key"));
  at::Tensor v = split(hooked_linear(*value, hidden, hook, "value"));
  if (hook) {
    q = hook("qk", kLeftOperand, q);
    k = hook("qk", kRightOperand, k);
  }
  at::Tensor scores = at::matmul(q, k.transpose(-1, -2)) / std::sqrt(static_cast<double>(d));
  if (mask.defined()) scores = scores + mask;
  at::Tensor probs = dropout(at::softmax(scores, -1));
  if (head_mask.defined()) {
    if (head_mask.dim() != 1 || head_mask.size(0) != heads)
      throw Error("head mask for a layer with " + std::to_string(heads) + " heads has shape " +
                  shape_string(head_mask.sizes()) + ", expected [" + std::to_string(heads) + "]");
    probs = probs * head_mask.to(probs.scalar_type()).view({1, heads, 1, 1});
  }
  if (hook) {
    probs = hook("pv", kLeftOperand, probs);
    v = hook("pv", kRightOperand, v);
  }
  at::Tensor context = at::matmul(probs, v);
  return context.permute({0, 2, 1, 3}).contiguous().view({b, s, heads * d});
}

AttentionOutputImpl::AttentionOutputImpl(AttentionOptions options_) : options(std::move(options_)) { reset(); }

void AttentionOutputImpl::reset() {
  dense = register_module("dense", torch::nn::Linear(options.all_head_size(), options.hidden_size()));
  LayerNorm = register_module("LayerNorm", torch::nn::LayerNorm(
                                               torch::nn::LayerNormOptions({options.hidden_size()}).eps(options.layer_norm_eps())));
  dropout = register_module("dropout", torch::nn::Dropout(options.hidden_dropout_prob()));
}

at::Tensor AttentionOutputImpl::forward(const at::Tensor& context, const at::Tensor& residual, const SiteHook& hook) {
  return LayerNorm(dropout(hooked_linear(*dense, context, hook, "dense")) + residual);
}

AttentionImpl::AttentionImpl(AttentionOptions options_) : options(std::move(options_)) { reset(); }

void AttentionImpl::reset() {
  self = register_module("self", SelfAttention(options));
  output = register_module("output", AttentionOutput(options));
}

at::Tensor AttentionImpl::forward(const at::Tensor& hidden, const at::Tensor& mask, const at::Tensor& head_mask,
                                  const SiteHook& hook) {
  at::Tensor context = self(hidden, mask, head_mask, scoped(hook, "self."));
  return output(context, hidden, scoped(hook, "output."));
}

}  // namespace slimpipe::nn
