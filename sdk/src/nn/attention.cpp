// Self-attention math of transformers' BertSelfAttention (eager path): scores = QK^T / sqrt(head_dim) + mask,
// softmax, dropout, head mask, then PV. head_dim comes from the unpruned config, as when transformers prunes heads.
#include "slimpipe/nn/attention.hpp"

#include <ATen/ATen.h>

#include <cmath>

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
  const std::int64_t b = hidden.size(0), s = hidden.size(1), heads = heads_in_use(), d = options.head_dim();
  if (heads > options.num_heads())
    throw Error("attention: " + std::to_string(heads) + " active heads requested, the layer has " +
                std::to_string(options.num_heads()));
  const bool narrow = heads < options.num_heads();
  // A narrower width keeps the leading heads: the first heads*d rows of query/key/value.
  auto project = [&](torch::nn::LinearImpl& linear, const char* name) {
    if (!narrow) return hooked_linear(linear, hidden, hook, name);
    return hooked_linear(linear.weight.narrow(0, 0, heads * d), linear.bias.narrow(0, 0, heads * d), hidden, hook,
                         name);
  };
  // [b, s, heads*d] -> [b, heads, s, d]
  auto split = [&](const at::Tensor& x) { return x.view({b, s, heads, d}).permute({0, 2, 1, 3}); };
  at::Tensor q = split(project(*query, "query"));
  at::Tensor k = split(project(*key, "key"));
  at::Tensor v = split(project(*value, "value"));
  if (hook) {
    q = hook("qk", kLeftOperand, q);
    k = hook("qk", kRightOperand, k);
  }
  at::Tensor scores = at::matmul(q, k.transpose(-1, -2)) / std::sqrt(static_cast<double>(d));
  if (mask.defined()) scores = scores + mask;
  at::Tensor probs = dropout(at::softmax(scores, -1));
  if (head_mask.defined()) {
    at::Tensor layer_mask = head_mask;
    // A mask written for every head of the layer applies to the active ones as their prefix.
    if (narrow && layer_mask.dim() == 1 && layer_mask.size(0) == options.num_heads())
      layer_mask = layer_mask.narrow(0, 0, heads);
    if (layer_mask.dim() != 1 || layer_mask.size(0) != heads)
      throw Error("head mask for a layer with " + std::to_string(heads) + " heads has shape " +
                  shape_string(head_mask.sizes()) + ", expected [" + std::to_string(heads) + "]");
    probs = probs * layer_mask.to(probs.scalar_type()).view({1, heads, 1, 1});
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
  LayerNorm = register_module(
      "LayerNorm",
      torch::nn::LayerNorm(torch::nn::LayerNormOptions({options.hidden_size()}).eps(options.layer_norm_eps())));
  dropout = register_module("dropout", torch::nn::Dropout(options.hidden_dropout_prob()));
}

at::Tensor AttentionOutputImpl::forward(const at::Tensor& context, const at::Tensor& residual, const SiteHook& hook) {
  const std::int64_t in = context.size(-1);
  if (in == dense->weight.size(1)) return LayerNorm(dropout(hooked_linear(*dense, context, hook, "dense")) + residual);
  if (in > dense->weight.size(1))
    throw Error("attention output: context has " + std::to_string(in) + " features, dense takes " +
                std::to_string(dense->weight.size(1)));
  return LayerNorm(dropout(hooked_linear(dense->weight.narrow(1, 0, in), dense->bias, context, hook, "dense")) +
                   residual);
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
