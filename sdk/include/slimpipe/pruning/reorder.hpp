// DynaBERT network rewiring: per layer, heads and FFN neurons sorted by descending importance, so that
// any width keeps the most important ones as a prefix. The full-width function is unchanged.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "slimpipe/export.hpp"
#include "slimpipe/nn/task_model.hpp"
#include "slimpipe/pruning/importance.hpp"

namespace slimpipe::pruning {

// Positions of `scores` in descending order; ties keep the lower index first, so equal scores leave the
// order unchanged.
SLIMPIPE_API std::vector<std::int64_t> descending_order(const at::Tensor& scores);

struct SLIMPIPE_API ReorderPlan {
  std::vector<std::vector<std::int64_t>> heads;    // per layer: new head i = old head heads[l][i]
  std::vector<std::vector<std::int64_t>> neurons;  // per layer: new neuron i = old neuron neurons[l][i]
};

SLIMPIPE_API ReorderPlan plan_reorder(const nn::TaskModelImpl& model, const Importance& importance);

// In place: query/key/value rows and attention.output.dense columns by head order, intermediate.dense rows
// and output.dense columns by neuron order (nn::permute_heads / permute_neurons), every layer.
SLIMPIPE_API void apply_reorder(nn::TaskModelImpl& model, const ReorderPlan& plan);

}  // namespace slimpipe::pruning
