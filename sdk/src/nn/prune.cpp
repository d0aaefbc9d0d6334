// Head / neuron permutation and slicing. Slicing always keeps a prefix, so after a permutation puts the
// important heads first, every pruned tensor is a narrow() of the original along the pruned dimensions.
#include "slimpipe/nn/prune.hpp"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <algorithm>
#include <map>

#include "slimpipe/error.hpp"

namespace slimpipe::nn {
namespace {

void check_permutation(const std::vector<std::int64_t>& order, std::int64_t n, const char* what) {
  std::vector<std::int64_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  bool ok = static_cast<std::int64_t>(sorted.size()) == n;
  for (std::int64_t i = 0; ok && i < n; ++i) ok = sorted[static_cast<std::size_t>(i)] == i;
  if (!ok)
    throw Error(std::string(what) + " order must be a permutation of 0.." + std::to_string(n - 1) + " (" +
                std::to_string(n) + " entries), found " + std::to_string(order.size()) + " entries");
}

// Row indices of a [units * width, ...] weight when unit u moves to position i.
at::Tensor unit_rows(const std::vector<std::int64_t>& order, std::int64_t width, const at::Device& device) {
  std::vector<std::int64_t> rows;
  rows.reserve(order.size() * static_cast<std::size_t>(width));
  for (auto u : order)
    for (std::int64_t j = 0; j < width; ++j) rows.push_back(u * width + j);
  return at::tensor(rows, at::TensorOptions().dtype(at::kLong)).to(device);
}

void reorder(at::Tensor& t, std::int64_t dim, const at::Tensor& index) { t.copy_(t.index_select(dim, index)); }

// dst[name] = src[name] narrowed to dst's shape in every dimension (the kept prefix).
void copy_prefix(const torch::nn::Module& src, torch::nn::Module& dst) {
  at::NoGradGuard no_grad;
  auto from = src.named_parameters();
  for (auto& item : dst.named_parameters()) {
    const at::Tensor* old = from.find(item.key());
    if (!old) throw Error("pruning: parameter '" + item.key() + "' has no source");
    at::Tensor view = *old;
    for (std::int64_t d = 0; d < view.dim(); ++d) view = view.narrow(d, 0, item.value().size(d));
    item.value().copy_(view);
  }
}

}  // namespace

void permute_heads(EncoderLayerImpl& layer, const std::vector<std::int64_t>& order) {
  check_permutation(order, layer.num_heads(), "head");
  at::NoGradGuard no_grad;
  auto& self = *layer.attention->self;
  at::Tensor rows = unit_rows(order, self.options.head_dim(), self.query->weight.device());
  for (auto* linear : {self.query.get(), self.key.get(), self.value.get()}) {
    reorder(linear->weight, 0, rows);
    reorder(linear->bias, 0, rows);
  }
  reorder(layer.attention->output->dense->weight, 1, rows);
}

void permute_neurons(EncoderLayerImpl& layer, const std::vector<std::int64_t>& order) {
  check_permutation(order, layer.intermediate_size(), "neuron");
  at::NoGradGuard no_grad;
  at::Tensor rows = unit_rows(order, 1, layer.intermediate->dense->weight.device());
  reorder(layer.intermediate->dense->weight, 0, rows);
  reorder(layer.intermediate->dense->bias, 0, rows);
  reorder(layer.output->dense->weight, 1, rows);
}

EncoderLayer slice_layer(const EncoderLayerImpl& layer, std::int64_t num_heads, std::int64_t intermediate_size) {
  if (num_heads < 0 || num_heads > layer.num_heads())
    throw Error("cannot keep " + std::to_string(num_heads) + " heads of a layer with " +
                std::to_string(layer.num_heads()));
  if (intermediate_size <= 0 || intermediate_size > layer.intermediate_size())
    throw Error("cannot keep " + std::to_string(intermediate_size) + " FFN neurons of a layer with " +
                std::to_string(layer.intermediate_size()));
  EncoderLayerOptions options = layer.options;
  options.attention().num_heads(num_heads);
  options.feed_forward().intermediate_size(intermediate_size);
  EncoderLayer sliced(options);
  const at::Tensor& like = layer.attention->output->dense->weight;
  sliced->to(like.device(), like.scalar_type());
  copy_prefix(layer, *sliced);
  sliced->train(layer.is_training());
  return sliced;
}

EncoderConfig pruned_config(const EncoderConfig& config, const std::vector<std::int64_t>& heads,
                            const std::vector<std::int64_t>& intermediate) {
  const auto layers = static_cast<std::size_t>(config.num_hidden_layers);
  if (heads.size() != layers || intermediate.size() != layers)
    throw Error("pruning needs one head count and one FFN width per layer (" + std::to_string(layers) + "), found " +
                std::to_string(heads.size()) + " and " + std::to_string(intermediate.size()));
  EncoderConfig out = config;
  for (std::size_t i = 0; i < layers; ++i) {
    const auto layer = static_cast<std::int64_t>(i);
    if (heads[i] > config.num_heads(layer) || intermediate[i] > config.intermediate_size_of(layer))
      throw Error("layer " + std::to_string(i) + ": cannot keep " + std::to_string(heads[i]) + " heads / " +
                  std::to_string(intermediate[i]) + " neurons, it has " + std::to_string(config.num_heads(layer)) +
                  " / " + std::to_string(config.intermediate_size_of(layer)));
    out.set_layer_width(layer, heads[i], intermediate[i]);
  }
  return out;
}

TaskModel prune(const TaskModelImpl& model, const std::vector<std::int64_t>& heads,
                const std::vector<std::int64_t>& intermediate) {
  TaskModel pruned(pruned_config(model.config(), heads, intermediate), model.head());
  const at::Tensor& like = model.embeddings->word_embeddings->weight;
  pruned->to(like.device(), like.scalar_type());
  copy_prefix(model, *pruned);
  pruned->train(model.is_training());
  return pruned;
}

}  // namespace slimpipe::nn
