// Cross-entropy losses of the standard heads (transformers' BertFor* forward with labels).
#include "slimpipe/tasks/losses.hpp"

#include <ATen/ATen.h>

#include "slimpipe/error.hpp"
#include "slimpipe/nn/shape_text.hpp"
#include "slimpipe/tasks/collation.hpp"

namespace slimpipe::tasks {
namespace {

at::Tensor cross_entropy(const at::Tensor& logits, const at::Tensor& targets, std::int64_t ignore_index) {
  // log_softmax + nll_loss is what torch::nn::functional::cross_entropy does, without its options header.
  return at::nll_loss(at::log_softmax(logits, -1), targets.to(at::kLong), {}, at::Reduction::Mean, ignore_index);
}

std::string shape_of(const at::Tensor& t) { return t.defined() ? nn::shape_string(t.sizes()) : "an undefined tensor"; }

void require(bool ok, const std::string& what) {
  if (!ok) throw Error("loss: " + what);
}

}  // namespace

at::Tensor sequence_classification_loss(const at::Tensor& logits, const at::Tensor& labels) {
  require(logits.defined() && logits.dim() == 2, "expected logits [batch, labels], got " + shape_of(logits));
  require(labels.defined() && labels.dim() == 1 && labels.size(0) == logits.size(0),
          "expected labels [" + std::to_string(logits.size(0)) + "], got " + shape_of(labels));
  return cross_entropy(logits, labels, kIgnoreIndex);
}

at::Tensor token_classification_loss(const at::Tensor& logits, const at::Tensor& labels) {
  require(logits.defined() && logits.dim() == 3, "expected logits [batch, seq, labels], got " + shape_of(logits));
  require(labels.defined() && labels.dim() == 2 && labels.size(0) == logits.size(0) && labels.size(1) == logits.size(1),
          "expected labels [" + std::to_string(logits.size(0)) + ", " + std::to_string(logits.size(1)) + "], got " +
              shape_of(labels));
  return cross_entropy(logits.reshape({-1, logits.size(2)}), labels.reshape({-1}), kIgnoreIndex);
}

at::Tensor span_extraction_loss(const at::Tensor& start_logits, const at::Tensor& end_logits,
                                const at::Tensor& start_positions, const at::Tensor& end_positions) {
  require(start_logits.defined() && start_logits.dim() == 2 && end_logits.defined() &&
              end_logits.sizes() == start_logits.sizes(),
          "expected start and end logits [batch, seq], got " + shape_of(start_logits) + " and " + shape_of(end_logits));
  for (const at::Tensor* p : {&start_positions, &end_positions}) {
    require(p->defined() && p->dim() == 1 && p->size(0) == start_logits.size(0),
            "expected positions [" + std::to_string(start_logits.size(0)) + "], got " + shape_of(*p));
  }
  const std::int64_t ignored = start_logits.size(1);
  const at::Tensor start = start_positions.to(at::kLong).clamp(0, ignored);
  const at::Tensor end = end_positions.to(at::kLong).clamp(0, ignored);
  return (cross_entropy(start_logits, start, ignored) + cross_entropy(end_logits, end, ignored)) / 2;
}

}  // namespace slimpipe::tasks
