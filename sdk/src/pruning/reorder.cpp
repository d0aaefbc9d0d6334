// Sorting importance scores into permutations and applying them layer by layer. Pruned layers use only
// their own head columns of the [layers, H] head score matrix.
#include "slimpipe/pruning/reorder.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>

#include "slimpipe/error.hpp"
#include "slimpipe/nn/prune.hpp"

namespace slimpipe::pruning {

std::vector<std::int64_t> descending_order(const at::Tensor& scores) {
  at::Tensor s = scores.detach().to(at::kCPU, at::kDouble).contiguous();
  const double* v = s.data_ptr<double>();
  std::vector<std::int64_t> order(static_cast<std::size_t>(s.numel()));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [v](std::int64_t a, std::int64_t b) { return v[a] > v[b]; });
  return order;
}

ReorderPlan plan_reorder(const nn::TaskModelImpl& model, const Importance& importance) {
  const std::int64_t layers = model.encoder->size();
  if (!importance.heads.defined() || importance.heads.size(0) != layers ||
      static_cast<std::int64_t>(importance.neurons.size()) != layers)
    throw Error("reorder: importance scores do not match the model's " + std::to_string(layers) + " layers");
  ReorderPlan plan;
  for (std::int64_t l = 0; l < layers; ++l) {
    auto layer = model.encoder->layer(l);
    const auto& neurons = importance.neurons[static_cast<std::size_t>(l)];
    if (neurons.numel() != layer->intermediate_size())
      throw Error("reorder: layer " + std::to_string(l) + " has " + std::to_string(layer->intermediate_size()) +
                  " FFN neurons, its importance has " + std::to_string(neurons.numel()));
    plan.heads.push_back(descending_order(importance.heads[l].narrow(0, 0, layer->num_heads())));
    plan.neurons.push_back(descending_order(neurons));
  }
  return plan;
}

void apply_reorder(nn::TaskModelImpl& model, const ReorderPlan& plan) {
  for (std::int64_t l = 0; l < model.encoder->size(); ++l) {
    auto layer = model.encoder->layer(l);
    nn::permute_heads(*layer, plan.heads.at(static_cast<std::size_t>(l)));
    nn::permute_neurons(*layer, plan.neurons.at(static_cast<std::size_t>(l)));
  }
}

}  // namespace slimpipe::pruning
