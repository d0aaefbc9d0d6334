// Training losses of the three standard heads, defined as Hugging Face's Bert*For* models
// compute them, so losses and gradients match a transformers fine-tuning run.
#pragma once

#include <ATen/core/Tensor.h>

#include "slimpipe/export.hpp"

namespace slimpipe::tasks {

// Mean cross-entropy of logits [b, c] against labels [b].
SLIMPIPE_API at::Tensor sequence_classification_loss(const at::Tensor& logits, const at::Tensor& labels);

// Mean cross-entropy of logits [b, s, c] against labels [b, s] over the positions whose label is
// not kIgnoreIndex (-100).
SLIMPIPE_API at::Tensor token_classification_loss(const at::Tensor& logits, const at::Tensor& labels);

// (CE(start) + CE(end)) / 2 over logits [b, s]; positions are clamped to [0, s] and s is ignored,
// as BertForQuestionAnswering does for answers cut off by truncation.
SLIMPIPE_API at::Tensor span_extraction_loss(const at::Tensor& start_logits, const at::Tensor& end_logits,
                                             const at::Tensor& start_positions, const at::Tensor& end_positions);

}  // namespace slimpipe::tasks
