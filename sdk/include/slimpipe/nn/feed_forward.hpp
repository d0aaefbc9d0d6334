// The position-wise FFN of an encoder layer, with a per-layer width so neuron-pruned layers are ordinary.
// Names match transformers' BertIntermediate ("intermediate.dense") and BertOutput ("output.dense",
// "output.LayerNorm").
#pragma once

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <string>

#include "slimpipe/export.hpp"
#include "slimpipe/nn/config.hpp"
#include "slimpipe/nn/hooks.hpp"

namespace slimpipe::nn {

struct SLIMPIPE_API FeedForwardOptions {
  FeedForwardOptions(std::int64_t hidden_size, std::int64_t intermediate_size)
      : hidden_size_(hidden_size), intermediate_size_(intermediate_size) {}
  static FeedForwardOptions from_config(const EncoderConfig& c, std::int64_t layer);
  TORCH_ARG(std::int64_t, hidden_size);
  TORCH_ARG(std::int64_t, intermediate_size);  // this layer's width
  TORCH_ARG(std::string, hidden_act) = "gelu";
  TORCH_ARG(double, hidden_dropout_prob) = 0.1;
  TORCH_ARG(double, layer_norm_eps) = 1e-12;
};

// Applies a config.json hidden_act by name; throws Error for names EncoderConfig::validate rejects.
SLIMPIPE_API at::Tensor activation(const std::string& hidden_act, const at::Tensor& x);

// act(dense(hidden)).
class SLIMPIPE_API IntermediateImpl : public torch::nn::Cloneable<IntermediateImpl> {
 public:
  explicit IntermediateImpl(FeedForwardOptions options);
  void reset() override;
  at::Tensor forward(const at::Tensor& hidden, const SiteHook& hook = {});

  // Neurons the forward uses: the first active_size rows of dense, 0 = all (DynaBERT's width-adaptive
  // supernet; see SelfAttentionImpl::active_heads).
  std::int64_t active_size = 0;

  FeedForwardOptions options;
  torch::nn::Linear dense{nullptr};
};
TORCH_MODULE(Intermediate);

// dense(intermediate) -> dropout -> LayerNorm(. + residual). A narrower input (fewer active neurons)
// uses the leading columns of dense.
class SLIMPIPE_API LayerOutputImpl : public torch::nn::Cloneable<LayerOutputImpl> {
 public:
  explicit LayerOutputImpl(FeedForwardOptions options);
  void reset() override;
  at::Tensor forward(const at::Tensor& intermediate, const at::Tensor& residual, const SiteHook& hook = {});

  FeedForwardOptions options;
  torch::nn::Linear dense{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(LayerOutput);

}  // namespace slimpipe::nn
