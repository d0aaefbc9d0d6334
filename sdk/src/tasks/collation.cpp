// Padding features into batch tensors: filled on raw buffers, then wrapped, because per-element
// tensor indexing costs microseconds each and a batch holds tens of thousands of tokens.
#include "slimpipe/tasks/collation.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <string>

#include "slimpipe/error.hpp"

namespace slimpipe::tasks {
namespace {

void check_index(std::int64_t index, std::size_t size) {
  if (index < 0 || static_cast<std::size_t>(index) >= size) {
    throw Error("collate: feature index " + std::to_string(index) + " is out of range (" + std::to_string(size) +
                " features)");
  }
}

}  // namespace

nn::EncoderInputs collate_inputs(const std::vector<EncodedFeature>& features, const std::vector<std::int64_t>& indices,
                                 std::int32_t pad_id) {
  std::size_t longest = 0;
  for (std::int64_t i : indices) {
    check_index(i, features.size());
    longest = std::max(longest, features[static_cast<std::size_t>(i)].size());
  }
  const auto b = static_cast<std::int64_t>(indices.size());
  const auto s = static_cast<std::int64_t>(longest);
  at::Tensor ids = at::full({b, s}, pad_id, at::kLong);
  at::Tensor types = at::zeros({b, s}, at::kLong);
  at::Tensor mask = at::zeros({b, s}, at::kLong);
  auto* id_data = ids.data_ptr<std::int64_t>();
  auto* type_data = types.data_ptr<std::int64_t>();
  auto* mask_data = mask.data_ptr<std::int64_t>();
  for (std::size_t row = 0; row < indices.size(); ++row) {
    const EncodedFeature& f = features[static_cast<std::size_t>(indices[row])];
    const std::size_t base = row * longest;
    for (std::size_t t = 0; t < f.size(); ++t) {
      id_data[base + t] = f.input_ids[t];
      type_data[base + t] = f.token_type_ids[t];
      mask_data[base + t] = 1;
    }
  }
  nn::EncoderInputs inputs;
  inputs.input_ids = ids;
  inputs.token_type_ids = types;
  inputs.attention_mask = mask;
  return inputs;
}

at::Tensor collate_values(const std::vector<std::int64_t>& values, const std::vector<std::int64_t>& indices) {
  at::Tensor out = at::empty({static_cast<std::int64_t>(indices.size())}, at::kLong);
  auto* data = out.data_ptr<std::int64_t>();
  for (std::size_t row = 0; row < indices.size(); ++row) {
    check_index(indices[row], values.size());
    data[row] = values[static_cast<std::size_t>(indices[row])];
  }
  return out;
}

at::Tensor collate_token_labels(const std::vector<std::vector<std::int64_t>>& labels,
                                const std::vector<std::int64_t>& indices, std::int64_t length) {
  at::Tensor out = at::full({static_cast<std::int64_t>(indices.size()), length}, kIgnoreIndex, at::kLong);
  auto* data = out.data_ptr<std::int64_t>();
  for (std::size_t row = 0; row < indices.size(); ++row) {
    check_index(indices[row], labels.size());
    const auto& l = labels[static_cast<std::size_t>(indices[row])];
    if (static_cast<std::int64_t>(l.size()) > length) {
      throw Error("collate: feature " + std::to_string(indices[row]) + " has " + std::to_string(l.size()) +
                  " token labels, more than the batch's " + std::to_string(length) + " columns");
    }
    std::copy(l.begin(), l.end(), data + row * static_cast<std::size_t>(length));
  }
  return out;
}

}  // namespace slimpipe::tasks
