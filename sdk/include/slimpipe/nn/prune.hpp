// Structured pruning of encoder layers: reorder heads / FFN neurons by a permutation (DynaBERT rewiring),
// then keep the first k heads / n neurons, producing smaller modules and the matching config.
#pragma once

#include <cstdint>
#include <vector>

#include "slimpipe/export.hpp"
#include "slimpipe/nn/encoder.hpp"
#include "slimpipe/nn/task_model.hpp"

namespace slimpipe::nn {

// In place: new head i is old head order[i] (query/key/value rows, attention.output.dense columns).
// `order` must be a permutation of 0..num_heads-1; throws Error otherwise. The function is exact:
// the layer's output does not change.
SLIMPIPE_API void permute_heads(EncoderLayerImpl& layer, const std::vector<std::int64_t>& order);
// In place: new FFN neuron i is old neuron order[i] (intermediate.dense rows, output.dense columns).
SLIMPIPE_API void permute_neurons(EncoderLayerImpl& layer, const std::vector<std::int64_t>& order);

// A new layer holding the first `num_heads` heads and the first `intermediate_size` neurons of `layer`
// (copies; `layer` is untouched). Throws Error when asked for more than the layer has.
SLIMPIPE_API EncoderLayer slice_layer(const EncoderLayerImpl& layer, std::int64_t num_heads,
                                      std::int64_t intermediate_size);

// The config of `config` with layer i cut to heads[i] heads and intermediate[i] neurons, keeping the first
// ones: pruned_heads gains the ids after the first heads[i] surviving ones, as transformers records them.
SLIMPIPE_API EncoderConfig pruned_config(const EncoderConfig& config, const std::vector<std::int64_t>& heads,
                                         const std::vector<std::int64_t>& intermediate);

// A new model: every layer sliced as above, embeddings and head copied, training mode kept.
SLIMPIPE_API TaskModel prune(const TaskModelImpl& model, const std::vector<std::int64_t>& heads,
                             const std::vector<std::int64_t>& intermediate);

}  // namespace slimpipe::nn
