// Sets the per-layer active head / neuron counts that SelfAttention and Intermediate read in forward.
// Checked here once, so a bad width fails before any forward runs.
#include "slimpipe/nn/active_width.hpp"

#include <string>

#include "slimpipe/error.hpp"

namespace slimpipe::nn {

void set_active_width(TaskModelImpl& model, const std::vector<std::int64_t>& heads,
                      const std::vector<std::int64_t>& intermediate) {
  const std::int64_t layers = model.encoder->size();
  if (static_cast<std::int64_t>(heads.size()) != layers || static_cast<std::int64_t>(intermediate.size()) != layers)
    throw Error("active width needs one head count and one FFN width per layer (" + std::to_string(layers) +
                "), found " + std::to_string(heads.size()) + " and " + std::to_string(intermediate.size()));
  for (std::int64_t i = 0; i < layers; ++i) {
    const auto u = static_cast<std::size_t>(i);
    EncoderLayer layer = model.encoder->layer(i);
    if (heads[u] < 1 || heads[u] > layer->num_heads() || intermediate[u] < 1 ||
        intermediate[u] > layer->intermediate_size())
      throw Error("layer " + std::to_string(i) + ": cannot run " + std::to_string(heads[u]) + " heads / " +
                  std::to_string(intermediate[u]) + " neurons, it has " + std::to_string(layer->num_heads()) + " / " +
                  std::to_string(layer->intermediate_size()));
  }
  for (std::int64_t i = 0; i < layers; ++i) {
    EncoderLayer layer = model.encoder->layer(i);
    layer->attention->self->active_heads = heads[static_cast<std::size_t>(i)];
    layer->intermediate->active_size = intermediate[static_cast<std::size_t>(i)];
  }
}

void clear_active_width(TaskModelImpl& model) {
  for (std::int64_t i = 0; i < model.encoder->size(); ++i) {
    EncoderLayer layer = model.encoder->layer(i);
    layer->attention->self->active_heads = 0;
    layer->intermediate->active_size = 0;
  }
}

ActiveWidthScope::ActiveWidthScope(TaskModelImpl& model, const std::vector<std::int64_t>& heads,
                                   const std::vector<std::int64_t>& intermediate)
    : model_(model) {
  set_active_width(model_, heads, intermediate);
}

ActiveWidthScope::~ActiveWidthScope() { clear_active_width(model_); }

}  // namespace slimpipe::nn
