// Token ids of one feature and the padding of a batch of them into the int64 tensors that
// TaskModel::forward takes. Shared by every task so padding and masks agree everywhere.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "slimpipe/export.hpp"
#include "slimpipe/nn/task_model.hpp"

namespace slimpipe::tasks {

// One model input row, unpadded.
struct EncodedFeature {
  std::vector<std::int32_t> input_ids;
  std::vector<std::int32_t> token_type_ids;
  std::size_t size() const { return input_ids.size(); }
};

// Label value that the losses and metrics skip (PyTorch's and Hugging Face's -100).
constexpr std::int64_t kIgnoreIndex = -100;

// input_ids, token_type_ids and attention_mask [b, longest] int64 for features[indices]:
// padding uses `pad_id`, token type 0 and mask 0. Throws Error on an index out of range.
SLIMPIPE_API nn::EncoderInputs collate_inputs(const std::vector<EncodedFeature>& features,
                                              const std::vector<std::int64_t>& indices, std::int32_t pad_id);

// values[indices] as an int64 tensor [b] (sequence labels, answer positions).
SLIMPIPE_API at::Tensor collate_values(const std::vector<std::int64_t>& values,
                                       const std::vector<std::int64_t>& indices);

// Per-token labels[indices] padded with kIgnoreIndex to `length` columns: int64 [b, length].
SLIMPIPE_API at::Tensor collate_token_labels(const std::vector<std::vector<std::int64_t>>& labels,
                                             const std::vector<std::int64_t>& indices, std::int64_t length);

}  // namespace slimpipe::tasks
