// The tiny BERT of the unit tests: its dimensions (2 layers, hidden 32, 4 heads, FFN 64, 100 ids, 64 positions,
// 3 labels), which each suite adjusts to its data, and seeded weights of O(1).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>

#include "slimpipe/nn/task_model.hpp"

namespace slimpipe::tiny_bert {

inline nn::EncoderConfig config() {
  nn::EncoderConfig c;
  c.vocab_size = 100;
  c.hidden_size = 32;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.intermediate_size = 64;
  c.max_position_embeddings = 64;
  c.num_labels = 3;
  return c;
}

// Draws every parameter of `model` from the global generator: LayerNorm scales 1 + 0.2 N(0, 1), everything else
// 0.3 N(0, 1). Weights of O(1), so that a wrong op shows far above float noise.
inline void set_o1_weights(nn::TaskModelImpl& model) {
  at::NoGradGuard no_grad;
  for (auto& p : model.named_parameters()) {
    if (p.key().find("LayerNorm.weight") != std::string::npos)
      p.value().copy_(1.0 + 0.2 * at::randn(p.value().sizes()));
    else
      p.value().copy_(0.3 * at::randn(p.value().sizes()));
  }
}

// A model of `c` built after seeding the global generator with `seed`, with O(1) weights, in eval mode (no
// dropout).
inline nn::TaskModel random_model(const nn::EncoderConfig& c, nn::TaskHead head, std::uint64_t seed = 7) {
  at::manual_seed(seed);
  nn::TaskModel model(c, head);
  set_o1_weights(*model);
  model->eval();
  return model;
}

inline double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

}  // namespace slimpipe::tiny_bert
