// FFN forward and the hidden_act table. "gelu" is the exact erf form; "gelu_new" and "gelu_pytorch_tanh"
// are both the tanh approximation (transformers' NewGELUActivation / GELU(approximate="tanh")).
#include "slimpipe/nn/feed_forward.hpp"

#include <ATen/ATen.h>

#include "slimpipe/error.hpp"

namespace slimpipe::nn {

FeedForwardOptions FeedForwardOptions::from_config(const EncoderConfig& c, std::int64_t layer) {
  return FeedForwardOptions(c.hidden_size, c.intermediate_size_of(layer))
      .hidden_act(c.hidden_act)
      .hidden_dropout_prob(c.hidden_dropout_prob)
      .layer_norm_eps(c.layer_norm_eps);
}

at::Tensor activation(const std::string& hidden_act, const at::Tensor& x) {
  if (hidden_act == "gelu") return at::gelu(x);
  if (hidden_act == "gelu_new" || hidden_act == "gelu_pytorch_tanh") return at::gelu(x, "tanh");
  if (hidden_act == "relu") return at::relu(x);
  throw Error("unknown hidden_act '" + hidden_act + "' (expected gelu, gelu_new, gelu_pytorch_tanh or relu)");
}

IntermediateImpl::IntermediateImpl(FeedForwardOptions options_) : options(std::move(options_)) { reset(); }

void IntermediateImpl::reset() {
  dense = register_module("dense", torch::nn::Linear(options.hidden_size(), options.intermediate_size()));
}

at::Tensor IntermediateImpl::forward(const at::Tensor& hidden, const SiteHook& hook) {
  const std::int64_t n = active_size > 0 ? active_size : options.intermediate_size();
  if (n == options.intermediate_size())
    return activation(options.hidden_act(), hooked_linear(*dense, hidden, hook, "dense"));
  if (n > options.intermediate_size())
    throw Error("FFN: " + std::to_string(n) + " active neurons requested, the layer has " +
                std::to_string(options.intermediate_size()));
  return activation(options.hidden_act(),
                    hooked_linear(dense->weight.narrow(0, 0, n), dense->bias.narrow(0, 0, n), hidden, hook, "dense"));
}

LayerOutputImpl::LayerOutputImpl(FeedForwardOptions options_) : options(std::move(options_)) { reset(); }

void LayerOutputImpl::reset() {
  dense = register_module("dense", torch::nn::Linear(options.intermediate_size(), options.hidden_size()));
  LayerNorm = register_module(
      "LayerNorm",
      torch::nn::LayerNorm(torch::nn::LayerNormOptions({options.hidden_size()}).eps(options.layer_norm_eps())));
  dropout = register_module("dropout", torch::nn::Dropout(options.hidden_dropout_prob()));
}

at::Tensor LayerOutputImpl::forward(const at::Tensor& intermediate, const at::Tensor& residual, const SiteHook& hook) {
  const std::int64_t in = intermediate.size(-1);
  if (in == dense->weight.size(1))
    return LayerNorm(dropout(hooked_linear(*dense, intermediate, hook, "dense")) + residual);
  if (in > dense->weight.size(1))
    throw Error("FFN output: input has " + std::to_string(in) + " features, dense takes " +
                std::to_string(dense->weight.size(1)));
  return LayerNorm(dropout(hooked_linear(dense->weight.narrow(1, 0, in), dense->bias, intermediate, hook, "dense")) +
                   residual);
}

}  // namespace slimpipe::nn
