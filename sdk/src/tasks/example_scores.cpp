// Example-by-example evaluation helpers (example_scores.hpp).
#include "slimpipe/tasks/example_scores.hpp"

#include <ATen/ATen.h>

#include "slimpipe/error.hpp"

namespace slimpipe::tasks {

ExampleScoring::~ExampleScoring() = default;

namespace {

// Appends t ([b, s] or [b, s, k]) at the positions where mask ([b, s]) is non-zero.
void append_masked(const at::Tensor& t, const at::Tensor& mask, std::vector<float>& outputs) {
  const at::Tensor values = t.detach().to(at::kCPU).to(at::kFloat);
  at::Tensor selected;
  if (!mask.defined()) {
    selected = values.reshape({-1});
  } else {
    const at::Tensor keep = mask.to(at::kCPU).ne(0);
    selected = values.masked_select(values.dim() == 3 ? keep.unsqueeze(-1).expand_as(values) : keep);
  }
  selected = selected.contiguous();
  const float* p = selected.data_ptr<float>();
  outputs.insert(outputs.end(), p, p + selected.numel());
}

}  // namespace

void append_outputs(const Batch& batch, const nn::EncoderOutput& output, std::vector<float>& outputs) {
  const at::Tensor& mask = batch.inputs.attention_mask;
  if (output.start_logits.defined()) {  // [b, s, 2]: start and end of each position, so batching does not reorder
    append_masked(at::stack({output.start_logits, output.end_logits}, -1), mask, outputs);
    return;
  }
  if (!output.logits.defined()) throw Error("example scores: the model produced no logits");
  if (output.logits.dim() == 3) {
    append_masked(output.logits, mask, outputs);
    return;
  }
  append_masked(output.logits, at::Tensor(), outputs);
}

double prediction_agreement(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  if (a.size() != b.size())
    throw Error("prediction agreement: " + std::to_string(a.size()) + " and " + std::to_string(b.size()) +
                " predictions (the models were scored on different examples)");
  if (a.empty()) throw Error("prediction agreement: no predictions");
  std::size_t same = 0;
  for (std::size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
  return static_cast<double>(same) / static_cast<double>(a.size());
}

}  // namespace slimpipe::tasks
