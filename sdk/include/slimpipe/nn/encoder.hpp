// Encoder layer (attention + FFN), the layer stack and the pooler.
// Per-layer head counts and FFN widths come from the config, so pruned models need no special path.
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <vector>

#include "slimpipe/export.hpp"
#include "slimpipe/nn/attention.hpp"
#include "slimpipe/nn/config.hpp"
#include "slimpipe/nn/feed_forward.hpp"
#include "slimpipe/nn/hooks.hpp"

namespace slimpipe::nn {

struct SLIMPIPE_API EncoderLayerOptions {
  EncoderLayerOptions(AttentionOptions attention, FeedForwardOptions feed_forward)
      : attention_(std::move(attention)), feed_forward_(std::move(feed_forward)) {}
  static EncoderLayerOptions from_config(const EncoderConfig& c, std::int64_t layer);
  TORCH_ARG(AttentionOptions, attention);
  TORCH_ARG(FeedForwardOptions, feed_forward);
};

// Submodules "attention", "intermediate", "output" (transformers' BertLayer).
class SLIMPIPE_API EncoderLayerImpl : public torch::nn::Cloneable<EncoderLayerImpl> {
 public:
  explicit EncoderLayerImpl(EncoderLayerOptions options);
  void reset() override;
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& mask = {}, const at::Tensor& head_mask = {},
                     const SiteHook& hook = {});

  std::int64_t num_heads() const { return options.attention().num_heads(); }
  std::int64_t intermediate_size() const { return options.feed_forward().intermediate_size(); }

  EncoderLayerOptions options;
  Attention attention{nullptr};
  Intermediate intermediate{nullptr};
  LayerOutput output{nullptr};
};
TORCH_MODULE(EncoderLayer);

// The stack "layer.0" .. "layer.{n-1}".
class SLIMPIPE_API EncoderImpl : public torch::nn::Cloneable<EncoderImpl> {
 public:
  explicit EncoderImpl(EncoderConfig config);
  void reset() override;
  // head_mask: [num_layers, H] with H >= every layer's head count (layer i uses columns 0..heads_i-1),
  // or [H] for all layers, or undefined. Appends each layer's output to `taps` when given.
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& mask = {}, const at::Tensor& head_mask = {},
                     const SiteHook& hook = {}, std::vector<at::Tensor>* taps = nullptr);

  std::int64_t size() const { return static_cast<std::int64_t>(list_->size()); }
  EncoderLayer layer(std::int64_t i) const;
  // Swaps in another layer (e.g. a sliced one); keeps the "layer.<i>" name.
  void replace_layer(std::int64_t i, EncoderLayer layer);

  EncoderConfig config;

 private:
  // The only owner of the layers: clone() assigns into registered children, so a second container of
  // holders would keep pointing at the pre-clone layers.
  torch::nn::ModuleList list_{nullptr};
};
TORCH_MODULE(Encoder);

// tanh(dense(hidden[:, 0])).
class SLIMPIPE_API PoolerImpl : public torch::nn::Cloneable<PoolerImpl> {
 public:
  explicit PoolerImpl(std::int64_t hidden_size);
  void reset() override;
  at::Tensor forward(const at::Tensor& sequence_output, const SiteHook& hook = {});

  std::int64_t hidden_size;
  torch::nn::Linear dense{nullptr};
};
TORCH_MODULE(Pooler);

}  // namespace slimpipe::nn
