// Initial weights for a model trained from scratch, as transformers' BertPreTrainedModel._init_weights
// does it (LibTorch's own defaults are Kaiming-uniform, which trains BERT noticeably worse).
#pragma once

#include "slimpipe/export.hpp"
#include "slimpipe/nn/task_model.hpp"

namespace slimpipe::train {

// Linear and Embedding weights ~ N(0, initializer_range), biases 0, the padding row of the word
// embeddings 0, LayerNorm weight 1 and bias 0. Draws from LibTorch's global generator.
SLIMPIPE_API void init_bert_weights(nn::TaskModelImpl& model, double initializer_range = 0.02);

}  // namespace slimpipe::train
