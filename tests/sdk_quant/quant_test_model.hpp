// The tiny BERT (tests/common/tiny_bert.hpp) for sequence classification with its O(1) random weights, in eval
// mode, and random token batches, for the sdk_quant tests that go through quantization sites.
#pragma once

#include <ATen/ATen.h>

#include <set>
#include <vector>

#include "common/tiny_bert.hpp"
#include "slimpipe/nn/task_model.hpp"
#include "slimpipe/task.hpp"

namespace slimpipe::quant::testing {

inline nn::TaskModel small_model(std::uint64_t seed = 7) {
  return tiny_bert::random_model(tiny_bert::config(), nn::TaskHead::SequenceClassification, seed);
}

inline std::vector<nn::EncoderInputs> random_batches(int n, std::int64_t batch = 8, std::int64_t seq = 16,
                                                     std::uint64_t seed = 11) {
  at::manual_seed(seed);
  std::vector<nn::EncoderInputs> out;
  for (int i = 0; i < n; ++i) {
    nn::EncoderInputs in;
    in.input_ids = at::randint(1, 100, {batch, seq}, at::kLong);
    in.token_type_ids = at::zeros({batch, seq}, at::kLong);
    in.attention_mask = at::ones({batch, seq}, at::kLong);
    out.push_back(in);
  }
  return out;
}

// n features of `seq` random token ids (seeded); every other feature has its last `pad` positions masked, so masks
// matter. collate() records every index it is asked for.
class RandomFeatures final : public FeatureSet {
 public:
  explicit RandomFeatures(std::int64_t n, std::int64_t seq = 12, std::int64_t seed = 5, std::int64_t pad = 3) : n_(n) {
    at::manual_seed(seed);
    ids_ = at::randint(1, 100, {n, seq}, at::kLong);
    mask_ = at::ones({n, seq}, at::kLong);
    for (std::int64_t i = 1; i < n; i += 2) mask_[i].narrow(0, seq - pad, pad).fill_(0);
  }
  std::int64_t size() const override { return n_; }
  Batch collate(const std::vector<std::int64_t>& indices) const override {
    Batch b;
    at::Tensor idx = at::tensor(indices, at::kLong);
    b.inputs.input_ids = ids_.index_select(0, idx);
    b.inputs.attention_mask = mask_.index_select(0, idx);
    b.inputs.token_type_ids = at::zeros_like(b.inputs.input_ids);
    b.features = indices;
    for (auto i : indices) seen.insert(i);
    return b;
  }
  mutable std::set<std::int64_t> seen;

 private:
  std::int64_t n_;
  at::Tensor ids_, mask_;
};

}  // namespace slimpipe::quant::testing
