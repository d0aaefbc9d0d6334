// The best model state seen during training, by the task's primary metric, kept in memory (a copy
// of every parameter and buffer) and put back into the model at the end.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "slimpipe/export.hpp"
#include "slimpipe/task.hpp"

namespace slimpipe::train {

class SLIMPIPE_API BestState {
 public:
  // Keeps a copy of `module`'s state when `metrics.value` beats the best so far (strictly: on a tie
  // the earlier, shorter-trained state stays). Returns whether it did.
  bool offer(const torch::nn::Module& module, const Metrics& metrics, std::int64_t step);
  // Copies the kept state back into `module`; false when nothing was ever kept.
  bool restore(torch::nn::Module& module) const;

  bool has_value() const { return best_.has_value(); }
  const Metrics& metrics() const { return *best_; }  // only when has_value()
  std::int64_t step() const { return step_; }

 private:
  std::optional<Metrics> best_;
  std::int64_t step_ = -1;
  std::map<std::string, at::Tensor> tensors_;
};

}  // namespace slimpipe::train
