// Encoder layer, layer stack and pooler. The stack slices a [layers, heads] head mask per layer so that
// a mask written for the unpruned model still applies to a pruned one (layer i reads its first heads_i columns).
#include "slimpipe/nn/encoder.hpp"

#include <ATen/ATen.h>

#include "slimpipe/error.hpp"
#include "slimpipe/nn/shape_text.hpp"

namespace slimpipe::nn {

EncoderLayerOptions EncoderLayerOptions::from_config(const EncoderConfig& c, std::int64_t layer) {
  return EncoderLayerOptions(AttentionOptions::from_config(c, layer), FeedForwardOptions::from_config(c, layer));
}

EncoderLayerImpl::EncoderLayerImpl(EncoderLayerOptions options_) : options(std::move(options_)) { reset(); }

void EncoderLayerImpl::reset() {
  attention = register_module("attention", Attention(options.attention()));
  intermediate = register_module("intermediate", Intermediate(options.feed_forward()));
  output = register_module("output", LayerOutput(options.feed_forward()));
}

at::Tensor EncoderLayerImpl::forward(const at::Tensor& hidden, const at::Tensor& mask, const at::Tensor& head_mask,
                                     const SiteHook& hook) {
  at::Tensor attended = attention(hidden, mask, head_mask, scoped(hook, "attention."));
  return output(intermediate(attended, scoped(hook, "intermediate.")), attended, scoped(hook, "output."));
}

EncoderImpl::EncoderImpl(EncoderConfig config_) : config(std::move(config_)) { reset(); }

void EncoderImpl::reset() {
  list_ = register_module("layer", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < config.num_hidden_layers; ++i)
    list_->push_back(EncoderLayer(EncoderLayerOptions::from_config(config, i)));
}

EncoderLayer EncoderImpl::layer(std::int64_t i) const {
  if (i < 0 || i >= size())
    throw Error("layer " + std::to_string(i) + " does not exist, the encoder has " + std::to_string(size()) +
                " layers");
  return EncoderLayer(list_->ptr<EncoderLayerImpl>(static_cast<std::size_t>(i)));
}

void EncoderImpl::replace_layer(std::int64_t i, EncoderLayer layer) {
  this->layer(i);  // range check
  const AttentionOptions& a = layer->options.attention();
  if (a.hidden_size() != config.hidden_size || a.num_attention_heads() != config.num_attention_heads)
    throw Error("layer " + std::to_string(i) + ": replacement has hidden_size " + std::to_string(a.hidden_size()) +
                " / num_attention_heads " + std::to_string(a.num_attention_heads()) + ", encoder has " +
                std::to_string(config.hidden_size) + " / " + std::to_string(config.num_attention_heads));
  // The config is what reset() (and so clone()) rebuilds from: it must describe the new layer.
  config.set_layer_width(i, layer->num_heads(), layer->intermediate_size());
  torch::nn::ModuleList list;
  for (std::int64_t j = 0; j < size(); ++j) list->push_back(j == i ? layer : this->layer(j));
  list_ = replace_module("layer", list);
}

at::Tensor EncoderImpl::forward(const at::Tensor& hidden, const at::Tensor& mask, const at::Tensor& head_mask,
                                const SiteHook& hook, std::vector<at::Tensor>* taps) {
  if (head_mask.defined()) {
    bool per_layer = head_mask.dim() == 2 && head_mask.size(0) == size();
    if (head_mask.dim() != 1 && !per_layer)
      throw Error("head_mask has shape " + shape_string(head_mask.sizes()) + ", expected [" + std::to_string(size()) +
                  ", heads] or [heads]");
    for (std::int64_t i = 0; i < size(); ++i)
      if (head_mask.size(-1) < layer(i)->num_heads())
        throw Error("head_mask has " + std::to_string(head_mask.size(-1)) + " columns, layer " + std::to_string(i) +
                    " has " + std::to_string(layer(i)->num_heads()) + " heads");
  }
  at::Tensor x = hidden;
  for (std::int64_t i = 0; i < size(); ++i) {
    EncoderLayer current = layer(i);
    at::Tensor layer_mask;
    if (head_mask.defined()) {
      at::Tensor row = head_mask.dim() == 2 ? head_mask[i] : head_mask;
      layer_mask = row.narrow(0, 0, current->num_heads());
    }
    x = current->forward(x, mask, layer_mask, scoped(hook, "layer." + std::to_string(i) + "."));
    if (taps) taps->push_back(x);
  }
  return x;
}

PoolerImpl::PoolerImpl(std::int64_t hidden_size_) : hidden_size(hidden_size_) { reset(); }

void PoolerImpl::reset() { dense = register_module("dense", torch::nn::Linear(hidden_size, hidden_size)); }

at::Tensor PoolerImpl::forward(const at::Tensor& sequence_output, const SiteHook& hook) {
  return at::tanh(hooked_linear(*dense, sequence_output.select(1, 0), hook, "dense"));
}

}  // namespace slimpipe::nn
