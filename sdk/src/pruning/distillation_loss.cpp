// Distillation loss terms. Teacher tensors are detached here as well, so a caller that forgot no_grad
// still never backpropagates into the teacher.
#include "slimpipe/pruning/distillation_loss.hpp"

#include <ATen/ATen.h>

#include "slimpipe/error.hpp"
#include "slimpipe/nn/shape_text.hpp"

namespace slimpipe::pruning {

at::Tensor soft_cross_entropy(const at::Tensor& student, const at::Tensor& teacher, const at::Tensor& row_weight) {
  if (student.sizes() != teacher.sizes())
    throw Error("distillation: student logits " + nn::shape_string(student.sizes()) + " vs teacher " +
                nn::shape_string(teacher.sizes()));
  at::Tensor per_row = -(at::softmax(teacher.detach(), -1) * at::log_softmax(student, -1)).sum(-1);
  if (!row_weight.defined()) return per_row.mean();
  at::Tensor w = row_weight.to(per_row.scalar_type());
  return (per_row * w).sum() / w.sum().clamp_min(1.0);
}

at::Tensor masked_mse(const at::Tensor& student, const at::Tensor& teacher, const at::Tensor& mask) {
  if (student.sizes() != teacher.sizes())
    throw Error("distillation: student hidden states " + nn::shape_string(student.sizes()) + " vs teacher " +
                nn::shape_string(teacher.sizes()));
  at::Tensor sq = (student - teacher.detach()).pow(2);
  if (!mask.defined()) return sq.mean();
  at::Tensor m = mask.to(sq.scalar_type()).unsqueeze(-1);
  return (sq * m).sum() / (m.sum().clamp_min(1.0) * static_cast<double>(sq.size(-1)));
}

DistillLoss distill_loss(const nn::EncoderOutput& student, const nn::EncoderOutput& teacher, nn::TaskHead head,
                         double lambda_distill, const at::Tensor& attention_mask) {
  if (student.taps.size() != teacher.taps.size() || student.taps.empty())
    throw Error("distillation: student has " + std::to_string(student.taps.size()) + " taps, teacher " +
                std::to_string(teacher.taps.size()));
  DistillLoss loss;
  loss.hidden = masked_mse(student.taps[0], teacher.taps[0], attention_mask);
  for (std::size_t j = 1; j < student.taps.size(); ++j)
    loss.hidden = loss.hidden + masked_mse(student.taps[j], teacher.taps[j], attention_mask);
  switch (head) {
    case nn::TaskHead::SequenceClassification:
      loss.logits = soft_cross_entropy(student.logits, teacher.logits);
      break;
    case nn::TaskHead::TokenClassification:
      loss.logits = soft_cross_entropy(student.logits, teacher.logits, attention_mask);
      break;
    case nn::TaskHead::QuestionAnswering: {
      // The softmax runs over positions; padding gets a large negative logit in both nets so it takes
      // no probability mass (and contributes 0 * finite = 0).
      auto masked = [&](const at::Tensor& logits) {
        if (!attention_mask.defined()) return logits;
        return logits + (1.0 - attention_mask.to(logits.scalar_type())) * -1e4;
      };
      loss.logits = 0.5 * (soft_cross_entropy(masked(student.start_logits), masked(teacher.start_logits.detach())) +
                           soft_cross_entropy(masked(student.end_logits), masked(teacher.end_logits.detach())));
      break;
    }
    case nn::TaskHead::None:
      throw Error("distillation: the model has no task head (logits) to distil");
  }
  loss.total = lambda_distill * loss.hidden + loss.logits;
  return loss;
}

}  // namespace slimpipe::pruning
