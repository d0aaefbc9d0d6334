// DynaBERT importance scores: per head |dL/d head_mask| and per FFN neuron the first-order Taylor term
// |sum W * dL/dW| of its weights, accumulated over labelled evaluation batches with the task's own loss.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "slimpipe/export.hpp"
#include "slimpipe/nn/task_model.hpp"
#include "slimpipe/task.hpp"

namespace slimpipe::pruning {

struct SLIMPIPE_API Importance {
  at::Tensor heads;                 // [layers, H] (H = num_attention_heads; a layer's missing heads stay 0)
  std::vector<at::Tensor> neurons;  // per layer, [intermediate_size of that layer]
  std::int64_t batches = 0;
};

// Head importance of one batch: H_l,h += |dL/dm_l,h| with m the head mask at all ones (it multiplies the
// attention probabilities of head h in layer l). Neuron importance of one batch, per layer:
//   N_l += |sum_D(W1 * dW1) + b1 * db1| + |sum_D(W2 * dW2)|
// where W1/b1 are intermediate.dense (rows = neurons) and W2 is output.dense (columns = neurons).
//
// Gradients come from torch::autograd::grad for each batch on its own, so nothing accumulates in the
// parameters' .grad (PaddleNLP never clears them: batch n sees the running sum of all gradients so far,
// and its first training step applies that sum). The model runs in eval mode (no dropout) so the scores
// are deterministic; its training flag is restored afterwards.
class SLIMPIPE_API HeadImportance {
 public:
  HeadImportance(nn::TaskModelImpl& model, const Task& task);

  // Adds one labelled batch (already on the model's device); returns its loss.
  double add(const Batch& batch);
  // Every batch of `data` in order, `batch_size` features at a time.
  void add_all(const FeatureSet& data, std::int64_t batch_size, const c10::Device& device);

  const Importance& result() const { return result_; }

 private:
  nn::TaskModelImpl& model_;
  const Task& task_;
  Importance result_;
};

// Convenience: HeadImportance over every batch of `data`.
SLIMPIPE_API Importance compute_importance(nn::TaskModelImpl& model, const Task& task, const FeatureSet& data,
                                           std::int64_t batch_size, const c10::Device& device);

}  // namespace slimpipe::pruning
