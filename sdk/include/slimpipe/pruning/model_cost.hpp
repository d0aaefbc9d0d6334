// Size and compute of a (pruned) encoder, for comparing a width's model with the model it came from:
// parameter count and encoder FLOPs per token at a given sequence length.
#pragma once

#include <torch/nn/module.h>

#include <cstdint>

#include "slimpipe/export.hpp"
#include "slimpipe/nn/config.hpp"

namespace slimpipe::pruning {

SLIMPIPE_API std::int64_t parameter_count(const torch::nn::Module& module);

// Multiply-adds count 2 FLOPs. Per layer and token: query/key/value 3*2*D*A, attention scores and
// context 2*2*S*A, attention output 2*A*D, FFN 2*2*D*F, with A = heads * head_dim and F the layer's
// FFN width. Embedding look-ups, LayerNorm, softmax and the task head are left out (they do not
// change with the width, or are per sequence).
SLIMPIPE_API double encoder_flops_per_token(const nn::EncoderConfig& config, std::int64_t seq_len);

}  // namespace slimpipe::pruning
