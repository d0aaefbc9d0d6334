// The DynaBERT width-distillation loss between a student at some width and the full-width teacher:
// lambda_distill * (MSE of the embedding output and every layer output) + soft cross-entropy on logits.
#pragma once

#include <ATen/core/Tensor.h>

#include "slimpipe/export.hpp"
#include "slimpipe/nn/task_model.hpp"

namespace slimpipe::pruning {

// -mean_rows sum_c softmax(teacher)_c * log_softmax(student)_c over the last axis, no temperature.
// `row_weight` (same shape as the logits without the last axis, 0/1): rows with weight 0 are left out
// of the mean; undefined: every row counts.
SLIMPIPE_API at::Tensor soft_cross_entropy(const at::Tensor& student, const at::Tensor& teacher,
                                           const at::Tensor& row_weight = {});

// Mean of (student - teacher)^2 over the tokens with mask 1 and the hidden axis; [b, s, d] tensors,
// mask [b, s] (undefined: every token).
SLIMPIPE_API at::Tensor masked_mse(const at::Tensor& student, const at::Tensor& teacher, const at::Tensor& mask = {});

struct SLIMPIPE_API DistillLoss {
  at::Tensor total;   // lambda * hidden + logits
  at::Tensor hidden;  // sum over the taps (embedding output + each layer) of masked_mse
  at::Tensor logits;  // soft cross-entropy; QA: mean of the start and end terms
};

// `teacher` must come from a no-grad forward (its tensors are used as constants). `attention_mask`
// [b, s], 1 = token: padding is excluded from the hidden-state MSE, from token classification rows and
// from the QA softmax (PaddleNLP averages over padding as well; see docs/dynabert.md).
SLIMPIPE_API DistillLoss distill_loss(const nn::EncoderOutput& student, const nn::EncoderOutput& teacher,
                                      nn::TaskHead head, double lambda_distill, const at::Tensor& attention_mask = {});

}  // namespace slimpipe::pruning
